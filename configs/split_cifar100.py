"""Task-conditioned hypernetworks on split CIFAR-100 (10 tasks of 10 classes).

  python -m launch.train --config=configs/split_cifar100.py --workdir=runs/split_cifar100
  python -m launch.train --config=configs/split_cifar100.py:chunked,tiny \
      --workdir=runs/split_cifar100_tiny

Target ResNet-32 without BatchNorm (Cubelier 2022; von Oswald et al. 2020).
ARG (comma-separated): a family
(sparse [default], sparse_prelu, chunked, mlp, linear, independent), ``new_task``,
``cycle``, and a size; see configs/multitask_common.py.
Needs CIFAR-100 through TensorFlow Datasets (``config.data.tfds_data_dir``; set
``--config.data.tfds_download=True`` where the internet is reachable).
"""

from configs import multitask_common


def get_config(arg: str | None = None):
  return multitask_common.get_config("split_cifar100", arg)
