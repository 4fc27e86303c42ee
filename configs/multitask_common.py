"""Configs of the multi-task benchmarks and hypernetwork families (Cubelier 2022).

``get_config(benchmark, arg)`` is what ``configs/split_mnist.py``,
``configs/permuted_mnist.py``, ``configs/split_cifar10.py`` and
``configs/split_cifar100.py`` return. ARG is comma-separated:

  * a family: ``sparse`` (linear sparse, the thesis's default), ``sparse_prelu``
    (non-linear sparse), ``chunked`` (about 23 chunks, as in the thesis), ``mlp``,
    ``linear``, ``independent`` (one network per task);
  * ``new_task``: hold out the last task, then infer it from few shots with the
    hypernetwork frozen;
  * ``cycle``: one task per step in turn instead of all tasks per step;
  * a size: ``tiny`` (seconds to a minute on 2 CPU cores; embedded MNIST sample when
    no IDX copy is found, mock-size CIFAR) or ``embedded`` (MNIST configs only).

Reference: Cubelier, "Sparse hypernetworks", MSc thesis, University of Liege, 2022:
MLP 784-400-400-400-k for split / permuted MNIST, ResNet-32 without BatchNorm for split
CIFAR-10 / CIFAR-100, 512-dim task embeddings with LayerNorm without affine parameters.
"""

from __future__ import annotations

import math

import ml_collections

from configs import common

# benchmark -> (dataset, task split, classes per task, number of tasks, target)
BENCHMARKS = {
    "split_mnist": ("mnist", "split", 2, 5, "mlp"),
    "permuted_mnist": ("mnist", "permuted", 10, 10, "mlp"),
    "split_cifar10": ("cifar10", "split", 2, 5, "resnet32"),
    "split_cifar100": ("cifar100", "split", 10, 10, "resnet32"),
}
FAMILIES = ("sparse", "sparse_prelu", "chunked", "mlp", "linear", "independent")
SIZES = ("tiny", "embedded")
OPTIONS = ("new_task", "cycle")
THESIS_CHUNKS = 23


def _target(kind: str, tiny: bool) -> ml_collections.ConfigDict:
  if kind == "mlp":
    hidden = (100, 100) if tiny else (400, 400, 400)
    return ml_collections.ConfigDict({"name": "mlp", "kwargs": {"hidden": hidden}})
  depth = 8 if tiny else 32
  return ml_collections.ConfigDict(
      {"name": "cifar_resnet", "kwargs": {"depth": depth, "use_batchnorm": False}})


def _hypernet(family: str, tiny: bool, chunk_size: int) -> ml_collections.ConfigDict:
  """The family's hyperparameters (the thesis's where it gives them)."""
  hnet = ml_collections.ConfigDict()
  hnet.family = family
  hnet.init = "hyperfan_in"
  hnet.init_scale = 2.0  # ReLU targets (He)
  if family in ("sparse", "sparse_prelu"):
    hnet.family = "sparse"
    hnet.embedding_dim = 64 if tiny else 512
    hnet.kwargs = ml_collections.ConfigDict(
        {"latent_dim": hnet.get_ref("embedding_dim"), "base": 2.0, "connectivity": 3,
         "schedule": "constant", "distribution": "uniform",
         "activation": "prelu" if family == "sparse_prelu" else "linear",
         "use_bias": family == "sparse_prelu", "backend": "segment"})
  elif family == "chunked":
    hnet.embedding_dim = 16 if tiny else 32
    hidden = (64, 64) if tiny else (100, 100)
    hnet.kwargs = ml_collections.ConfigDict(
        {"chunk_size": chunk_size, "num_ws": 1, "hidden": hidden,
         "chunk_embedding_dim": 16 if tiny else 32})
  elif family == "mlp":
    hnet.embedding_dim = 16 if tiny else 32
    hnet.kwargs = ml_collections.ConfigDict({"hidden": (16, 16) if tiny else (32, 32)})
  elif family == "linear":
    hnet.embedding_dim = 8 if tiny else 16
    hnet.kwargs = ml_collections.ConfigDict()
  else:  # independent
    hnet.embedding_dim = 1  # unused: no embedding
    hnet.init = "default"
    hnet.kwargs = ml_collections.ConfigDict()
  return hnet


def benchmark_target(benchmark: str, tiny: bool):
  """The benchmark's :class:`~hyperjax.target.Target` (one task's network)."""
  from hyperjax import builders  # pylint: disable=g-import-not-at-top
  dataset, _, classes, _, kind = BENCHMARKS[benchmark]
  shape = (28, 28, 1) if dataset == "mnist" else (32, 32, 3)
  return builders.build_target(_target(kind, tiny), input_shape=shape, num_outputs=classes)


def target_size(benchmark: str, tiny: bool) -> int:
  """Parameters of the benchmark's target (to size the chunks)."""
  return benchmark_target(benchmark, tiny).num_params


def get_config(benchmark: str, arg: str | None = None) -> ml_collections.ConfigDict:
  """The config of ``benchmark`` (:data:`BENCHMARKS`) for the comma-separated ``arg``."""
  if benchmark not in BENCHMARKS:
    raise ValueError(f"Unknown benchmark {benchmark!r}; choose one of {', '.join(BENCHMARKS)}.")
  args = [a for a in (arg or "").split(",") if a]
  unknown = [a for a in args if a not in FAMILIES + SIZES + OPTIONS]
  if unknown:
    raise ValueError(f"Unknown config argument(s) {unknown}; use a family "
                     f"({', '.join(FAMILIES)}), a size ({', '.join(SIZES)}) and/or options "
                     f"({', '.join(OPTIONS)}), comma-separated.")
  families = [a for a in args if a in FAMILIES]
  if len(families) > 1:
    raise ValueError(f"Choose one hypernetwork family, got {families}.")
  dataset, kind, classes, num_tasks, target_kind = BENCHMARKS[benchmark]
  tiny = "tiny" in args
  if "embedded" in args and dataset != "mnist":
    raise ValueError("'embedded' is for the MNIST benchmarks (the embedded sample is MNIST).")

  config = ml_collections.ConfigDict()
  config.experiment = "multitask"
  config.seed = 0
  # Devices: axis=size pairs over data/model/ray/task (hyperjax.training.sharding).
  config.mesh = "data=-1"
  config.data = common.data_block(dataset)
  config.tasks = ml_collections.ConfigDict(
      {"kind": kind, "classes_per_task": classes, "num_tasks": num_tasks,
       "holdout": ml_collections.FieldReference(None, field_type=int)})
  config.target = _target(target_kind, tiny)
  chunk_size = math.ceil(target_size(benchmark, tiny) / THESIS_CHUNKS)
  config.hypernet = _hypernet(families[0] if families else "sparse", tiny, chunk_size)
  config.task_sampling = "cycle" if "cycle" in args else "all"

  config.batch_size = 128
  config.eval_batch_size = 1000
  config.optimizer = common.optimizer_block("adam", 1e-3 if dataset == "mnist" else 1e-4)
  config.num_steps = 4000 if dataset == "mnist" else 20_000
  config.eval_every = 1000
  config.log_every = 50

  if "new_task" in args:
    config.tasks.holdout = num_tasks - 1
    config.new_task = ml_collections.ConfigDict(
        {"shots": (1, 5, 10, 50), "steps": 300, "learning_rate": 1e-2, "init": "mean"})

  if tiny:
    config.data.allow_embedded = True
    config.batch_size = 64 if dataset == "mnist" else 16
    config.num_steps = 300 if dataset == "mnist" else 20
    config.eval_every = 150 if dataset == "mnist" else 10
    if kind == "permuted":
      config.tasks.num_tasks = 3
      if "new_task" in args:
        config.tasks.holdout = 2
    if "new_task" in args:
      config.new_task.shots = (1, 5)
      config.new_task.steps = 50
  elif "embedded" in args:
    config.data.source = "embedded"
    config.num_steps = 1500
    config.eval_every = 500
  return config
