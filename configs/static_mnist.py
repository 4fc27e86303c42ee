"""Static hypernetwork (Ha et al.) on MNIST: the 2-conv net's 7x7x16x16 kernel generated.

  python -m launch.train --config=configs/static_mnist.py:hyper5_5 --workdir=runs/hyper5_5
  python -m launch.train --config=configs/static_mnist.py:conv --workdir=runs/conv_model
  python -m launch.train --config=configs/static_mnist.py:hyper4_4,tiny --workdir=/tmp/h44

ARG: ``hyperA_B`` (layer embedding of A dims, projection of B dims: Hyper4_4 has 4,244
parameters in place of the plain layer's 12,560) or ``conv`` (the plain model), and
optionally ``tiny`` (a few hundred steps on 2 CPU cores). Protocol of the student
reproduction (REFERENCE.md section 2): Adam, learning rate x0.999 per step, batch 1000,
55k/5k/10k split, pad to 30 and random-crop 28, early stopping on validation accuracy.
Needs the MNIST IDX files (``config.data.idx_dir`` or ``../shared/data``).
"""

from configs import static_common


def get_config(arg: str | None = None):
  return static_common.get_config("mnist", arg)
