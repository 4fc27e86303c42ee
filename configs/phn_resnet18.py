"""PHN's chunked ResNet-18 (Navon et al., ICLR 2021) on Multi-(Fashion+MNIST).

Target: ResNet-18 with a 1-channel 7x7 stem, fc 512->512, two heads (11,443,156 params),
BatchNorm with per-ray calibrated statistics at evaluation. Hypernetwork: chunked, presets
11M / 5M / 2M / 1M = 105/230/577/1150 chunks x 11/5/2/1 matrices of 10000x100
(11,036,684 / 5,044,684 / 2,066,892 / 1,103,564 params). Paper training setup (Adam 1e-4,
batch 256, 150 epochs, Dirichlet(0.2) rays). ARG: preset, solver, ``tiny``, comma-separated.

  python -m launch.train --config=configs/phn_resnet18.py:11M,ls --workdir=runs/phn_resnet18_11m
  python -m launch.train --config=configs/phn_resnet18.py:1M,epo --workdir=runs/phn_resnet18_1m
  python -m launch.train --config=configs/phn_resnet18.py:5M,tiny --workdir=/tmp/phn_r18_tiny

Datasets other than Fashion+MNIST: ``--config.data.name=multi_mnist`` (or ``multi_fashion``).
A ResNet-18 step is heavy for a CPU; run the full configs on a GPU/TPU.
"""

from hyperjax.experiments.pareto import base_config
from hyperjax.hypernets import PHN_RESNET18_PRESETS


def get_config(arg=None):
  args = [a for a in (arg or "").split(",") if a]
  if not any(a in PHN_RESNET18_PRESETS for a in args):
    args.append("11M")
  return base_config("multi_fashion_mnist", ",".join(args))
