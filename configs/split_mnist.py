"""Task-conditioned hypernetworks on split MNIST (5 tasks of 2 digits), trained jointly.

  python -m launch.train --config=configs/split_mnist.py --workdir=runs/split_mnist
  python -m launch.train --config=configs/split_mnist.py:chunked,tiny --workdir=runs/sm_tiny
  python -m launch.train --config=configs/split_mnist.py:sparse,new_task --workdir=runs/sm_new

Target MLP 784-400-400-400-2 (Cubelier 2022). ARG (comma-separated): a family
(sparse [default], sparse_prelu, chunked, mlp, linear, independent), ``new_task``,
``cycle``, and ``tiny`` or ``embedded``; see configs/multitask_common.py.
The full size needs the MNIST IDX files (``config.data.idx_dir`` or ``../shared/data``).
"""

from configs import multitask_common


def get_config(arg: str | None = None):
  return multitask_common.get_config("split_mnist", arg)
