"""Static hypernetworks (Ha et al.) on CIFAR-10: VGG-block nets and Wide ResNets.

  python -m launch.train --config=configs/static_cifar10.py:block3,hyper32_32 --workdir=runs/b3h
  python -m launch.train --config=configs/static_cifar10.py:block3,conv --workdir=runs/b3
  python -m launch.train --config=configs/static_cifar10.py:wrn40_1,hyper64_64 --workdir=runs/hwrn

ARG: a network (``block1``, ``block2``, ``block3``: VGG blocks of the student reproduction;
``wrn40_1``, ``wrn40_2``: Ha et al.'s Wide ResNets, N_z = 64), a model (``conv``: plain;
``hyperA_B``: every 3x3 kernel with channels in multiples of 16 generated, each 16x16
tile from its own A-dim embedding), and optionally ``tiny``. 45k/5k/10k split, batch 128,
pad-and-crop and flips, early stopping on validation accuracy. Needs CIFAR-10 through
TensorFlow Datasets (``config.data.tfds_data_dir``; ``--config.data.tfds_download=True``
where the internet is reachable).
"""

from configs import static_common


def get_config(arg: str | None = None):
  return static_common.get_config("cifar10", arg)
