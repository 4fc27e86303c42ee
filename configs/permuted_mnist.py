"""Task-conditioned hypernetworks on permuted MNIST (10 tasks, one fixed pixel permutation each).

  python -m launch.train --config=configs/permuted_mnist.py --workdir=runs/permuted_mnist
  python -m launch.train --config=configs/permuted_mnist.py:chunked,tiny \
      --workdir=runs/permuted_mnist_tiny

Target MLP 784-400-400-400-10 (Cubelier 2022).
ARG (comma-separated): a family
(sparse [default], sparse_prelu, chunked, mlp, linear, independent), ``new_task``,
``cycle``, and a size; see configs/multitask_common.py.
The full size needs the MNIST IDX files (``config.data.idx_dir`` or ``../shared/data``).
"""

from configs import multitask_common


def get_config(arg: str | None = None):
  return multitask_common.get_config("permuted_mnist", arg)
