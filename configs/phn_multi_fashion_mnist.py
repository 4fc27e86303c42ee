"""PHN (Navon et al., ICLR 2021) on multi_fashion_mnist: LeNet target, 3,243,410-parameter MLP hypernetwork.

Paper setup: Adam 1e-4, batch 256, 150 epochs, one ray per step from Dirichlet(0.2),
25 evaluation rays, HV at reference (2, 2), model selection by validation HV.

  python -m launch.train --config=configs/phn_multi_fashion_mnist.py:ls --workdir=runs/phn_multi_fashion_mnist_ls
  python -m launch.train --config=configs/phn_multi_fashion_mnist.py:epo --workdir=runs/phn_multi_fashion_mnist_epo
  python -m launch.train --config=configs/phn_multi_fashion_mnist.py:epo,tiny --workdir=/tmp/phn_tiny

Override from the command line, e.g. ``--config.num_rays=16 --config.ray_batching=split``.
"""

from hyperjax.experiments.pareto import base_config


def get_config(arg=None):
  return base_config("multi_fashion_mnist", arg)
