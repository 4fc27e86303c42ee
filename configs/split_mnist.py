"""Task-conditioned hypernetwork on split MNIST (5 tasks of 2 digits), trained jointly.

  python -m launch.train --config=configs/split_mnist.py --workdir=runs/split_mnist
  python -m launch.train --config=configs/split_mnist.py:tiny --workdir=runs/split_mnist_tiny
  python -m launch.train --config=configs/split_mnist.py:sparse --workdir=runs/split_mnist_sparse

``:tiny`` runs in well under a minute on 2 CPU cores, on the full IDX copy when one is
found and on the embedded sample otherwise. The default needs the full MNIST IDX files
(``config.data.idx_dir`` or ``../shared/data/mnist``).
ARG (comma-separated): a hypernetwork family, ``chunked`` (default) or ``sparse`` (Cubelier
2022: 512-dim task embedding -> sparse layers widening x2 per layer, 3 edges per unit, up to
the target's 635,602 weights), and a size, ``tiny`` or ``embedded``.
Override anything from the command line, e.g. ``--config.hypernet.kwargs.backend=ell``.
"""

import ml_collections

from hyperjax.data import default_data_config


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.experiment = "multitask"
  config.seed = 0

  config.data = default_data_config("mnist")

  config.tasks = ml_collections.ConfigDict()
  config.tasks.kind = "split"
  config.tasks.classes_per_task = 2
  config.tasks.num_tasks = 5

  # MLP 784-400-400-400-k (Cubelier 2022), k = classes per task.
  config.target = ml_collections.ConfigDict()
  config.target.name = "mlp"
  config.target.kwargs = ml_collections.ConfigDict({"hidden": (400, 400, 400)})

  config.hypernet = ml_collections.ConfigDict()
  config.hypernet.family = "chunked"
  config.hypernet.embedding_dim = 32
  config.hypernet.init = "hyperfan_in"
  config.hypernet.init_scale = 2.0
  config.hypernet.kwargs = ml_collections.ConfigDict(
      {"chunk_size": 8000, "num_ws": 4, "hidden": (100, 100), "chunk_embedding_dim": 32})

  config.batch_size = 128
  config.eval_batch_size = 1000
  config.learning_rate = 1e-3
  config.num_steps = 4000
  config.eval_every = 1000
  config.log_every = 50

  args = [a for a in (arg or "").split(",") if a]
  for a in args:
    if a not in ("chunked", "sparse", "tiny", "embedded"):
      raise ValueError(f"Unknown config argument {a!r}; use 'chunked' or 'sparse' and/or "
                       "'tiny' or 'embedded', comma-separated.")
  if "sparse" in args:
    config.hypernet.family = "sparse"
    config.hypernet.embedding_dim = 512
    config.hypernet.kwargs = ml_collections.ConfigDict(
        {"latent_dim": config.hypernet.get_ref("embedding_dim"), "base": 2.0,
         "connectivity": 3, "schedule": "constant", "distribution": "uniform",
         "activation": "linear", "use_bias": False, "backend": "segment"})
  if "tiny" in args:
    config.data.allow_embedded = True
    config.target.kwargs = ml_collections.ConfigDict({"hidden": (100, 100)})
    if "sparse" in args:
      config.hypernet.embedding_dim = 64
    else:
      config.hypernet.kwargs = ml_collections.ConfigDict(
          {"chunk_size": 4000, "num_ws": 2, "hidden": (64, 64), "chunk_embedding_dim": 16})
    config.batch_size = 64
    config.num_steps = 300
    config.eval_every = 150
  elif "embedded" in args:
    config.data.source = "embedded"
    config.num_steps = 1500
    config.eval_every = 500
  return config
