"""Time to hypervolume: the test front's HV against training wall time, per setting.

A user who wants a Pareto front for a budget cares about one number: how long training
takes to reach a given test hypervolume. :func:`time_to_hv` trains PHN (LeNet target,
MLP hypernetwork) on the same data for each setting -- rays per step, ray batching,
hypernetwork initialisation, learning rate, solver -- evaluates the test front after
every epoch, and records the cumulative *training* seconds (evaluation excluded: it is
the measurement) beside the hypervolume. ``launch/benchmark.py --suite=time_to_hv``
prints the table, writes JSON and draws HV against seconds.

Reference: Navon et al., ICLR 2021 (PHN: one ray per step, Adam 1e-4, Dirichlet(0.2)).
"""

from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

import jax
import numpy as np

from hyperjax import benchmarks
from hyperjax.data import pipeline
from hyperjax.pareto import evaluate as evaluate_lib
from hyperjax.pareto import metrics, rays as rays_lib
from hyperjax.pareto.solvers import make_solver
from hyperjax.pareto.step import make_pareto_step
from hyperjax.pareto.trainer import DEFAULT_HYPERNET
from hyperjax.training.optimizers import make_optimizer
from hyperjax.training.step import init_train_state

# name -> options: 1 ray per step (the paper's recipe) and 16 rays with the batch split among
# them, each with hyperfan-in and with PyTorch's default init (the reference code's and the PHN
# configs' default), Adam at 3e-4 instead of the paper's 1e-4, and the PyTorch implementation
# (hyperjax.torch_reference) from the same initial parameters as ls_1ray_torch_init, at both
# learning rates.
SETTINGS: dict[str, dict[str, Any]] = {
    "ls_1ray_hyperfan_in": {"init": "hyperfan_in"},
    "ls_16rays_split_hyperfan_in": {"num_rays": 16, "ray_batching": "split", "init": "hyperfan_in"},
    "ls_1ray_torch_init": {"init": "torch_default"},
    "ls_16rays_split_torch_init": {"num_rays": 16, "ray_batching": "split",
                                   "init": "torch_default"},
    "ls_1ray_torch_init_lr3e-4": {"init": "torch_default", "learning_rate": 3e-4},
    "pytorch_ls_1ray": {"framework": "torch", "init": "torch_default"},
    "pytorch_ls_1ray_lr3e-4": {"framework": "torch", "init": "torch_default",
                               "learning_rate": 3e-4},
}
OPTIONS = ("num_rays", "ray_batching", "init", "learning_rate", "solver", "ray_alpha", "framework")


def available_settings() -> list[str]:
  """All settings, less the PyTorch ones when PyTorch is not installed (said on stdout)."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  if importlib.util.find_spec("torch") is not None:
    return list(SETTINGS)
  skipped = [n for n, o in SETTINGS.items() if o.get("framework") == "torch"]
  print(f"PyTorch is not installed: skipping {', '.join(skipped)} (pip install -e '.[bench]').")
  return [n for n in SETTINGS if n not in skipped]


def time_to_hv(data: Mapping[str, tuple[np.ndarray, np.ndarray]],
               settings: Mapping[str, Mapping[str, Any]], num_epochs: int, batch_size: int = 256,
               num_eval_rays: int = 25, reference_point: Sequence[float] = (2.0, 2.0),
               seed: int = 42, evals_per_epoch: int = 1) -> list[dict]:
  """Rows ``{setting, epoch, train_s, test_hypervolume, ...}`` after every epoch.

  Args:
    data: ``{'train': (images, labels), 'test': (images, labels)}`` (Multi-MNIST arrays).
    settings: name -> options: ``num_rays``, ``ray_batching``, ``init`` (hypernet init:
      ``hyperfan_in`` default, ``torch_default``, ...), ``learning_rate`` (1e-4),
      ``solver`` (``'ls'``), ``ray_alpha`` (0.2), ``framework`` (``'jax'``; ``'torch'``:
      :class:`hyperjax.torch_reference.TorchPHNTrainer` from the same initial
      parameters, PHN-LS with one ray per step only).
    num_epochs: epochs per setting.
    evals_per_epoch: test-front evaluations per epoch (each after an equal share of its
      steps; rows carry the fractional ``epoch``).
    batch_size / num_eval_rays / reference_point / seed: as in the PHN configs.
  """
  train_x, train_y = data["train"]
  test = data["test"]
  per_epoch = pipeline.steps_per_epoch(len(train_x), batch_size)
  if not 1 <= evals_per_epoch <= per_epoch:
    raise ValueError(f"evals_per_epoch must be between 1 and the {per_epoch} steps of an epoch, "
                     f"got {evals_per_epoch}.")
  parts = _parts(per_epoch, evals_per_epoch, num_epochs)
  eval_rays = rays_lib.evaluation_rays(num_eval_rays)
  rows = []
  for name, options in settings.items():
    unknown = set(options) - set(OPTIONS)
    if unknown:
      raise ValueError(f"Setting {name!r}: unknown option(s) {sorted(unknown)}; "
                       f"choose from {', '.join(OPTIONS)}.")
    block = dict(DEFAULT_HYPERNET, init=options.get("init", DEFAULT_HYPERNET["init"]))
    target, hnet, variables = benchmarks.phn_model(hypernet_block=block, seed=seed)
    if options.get("framework", "jax") == "torch":
      rows += _torch_rows(name, options, target, hnet, variables, data, parts,
                          evals_per_epoch, batch_size, eval_rays, reference_point, seed)
      continue
    optimizer = make_optimizer("adam", options.get("learning_rate", 1e-4))
    step = make_pareto_step(hnet, target, optimizer, make_solver(options.get("solver", "ls")),
                            num_objectives=2, num_rays=options.get("num_rays", 1),
                            ray_alpha=options.get("ray_alpha", 0.2),
                            ray_batching=options.get("ray_batching", "whole"))
    evaluator = evaluate_lib.make_front_evaluator(hnet, target, 500)
    state = init_train_state(optimizer, variables)
    key = jax.random.key(seed + 2)
    # Compile outside the clock (the first step's compile is reported apart).
    start = time.perf_counter()
    step_lowered = step.lower(  # type: ignore[attr-defined]
        state, (train_x[:batch_size], train_y[:batch_size]), key).compile()
    compile_s = time.perf_counter() - start

    holder = {"state": state}

    def train_part(part):
      for i in range(*parts[part - 1]):
        sel = pipeline.batch_indices(len(train_x), batch_size, seed, i)
        holder["state"], scalars = step_lowered(holder["state"], (train_x[sel], train_y[sel]),
                                                jax.random.fold_in(key, i))
      jax.block_until_ready(holder["state"])
      params = holder["state"]["params"]
      return float(scalars["loss"]), lambda: evaluator(params, eval_rays, test)[0]

    rows += _epoch_rows(name, options, len(parts), evals_per_epoch, compile_s, train_part,
                        reference_point)
  return rows


def _parts(per_epoch: int, evals_per_epoch: int, num_epochs: int) -> list[tuple[int, int]]:
  """The ``[start, end)`` steps between evaluations: each epoch cut into ``evals_per_epoch``
  near-equal parts, so that every whole epoch still ends with an evaluation."""
  cuts = [(k * per_epoch) // evals_per_epoch for k in range(evals_per_epoch + 1)]
  return [(e * per_epoch + a, e * per_epoch + b) for e in range(num_epochs)
          for a, b in zip(cuts[:-1], cuts[1:])]


def _epoch_rows(name, options, num_evals, evals_per_epoch, compile_s, train_part,
                reference_point) -> list[dict]:
  """Runs ``train_part(k) -> (last loss, test_losses())`` for ``k = 1..num_evals``, timing
  the training only, and records the test front's hypervolume after each."""
  rows, train_s = [], 0.0
  for part in range(1, num_evals + 1):
    epoch = part / evals_per_epoch if evals_per_epoch > 1 else part
    start = time.perf_counter()
    loss, test_losses = train_part(part)
    train_s += time.perf_counter() - start
    hv = metrics.hypervolume(test_losses(), reference_point)
    rows.append({"case": "time_to_hv", "setting": name, "epoch": epoch, "train_s": train_s,
                 "compile_s": compile_s, "test_hypervolume": hv, "final_loss": loss,
                 **dict(options)})
    print(f"  {name}: epoch {epoch}, {train_s:.1f} s of training, test HV {hv:.4f}", flush=True)
  return rows


def _torch_rows(name, options, target, hnet, variables, data, parts, evals_per_epoch,
                batch_size, eval_rays, reference_point, seed) -> list[dict]:
  """The PyTorch implementation trained and evaluated like the JAX settings."""
  from hyperjax import torch_reference  # pylint: disable=g-import-not-at-top
  if options.get("solver", "ls") != "ls" or options.get("num_rays", 1) != 1:
    raise ValueError(f"Setting {name!r}: the PyTorch reference trains PHN-LS with one ray.")
  train_x, train_y = data["train"]
  test_x, test_y = data["test"]
  model = torch_reference.TorchPHN.like(target, hnet, variables, seed=seed)
  trainer = torch_reference.TorchPHNTrainer(model, options.get("learning_rate", 1e-4),
                                            options.get("ray_alpha", 0.2), seed=seed + 2)
  def train_part(part):
    for i in range(*parts[part - 1]):
      sel = pipeline.batch_indices(len(train_x), batch_size, seed, i)
      out = trainer.step(*model.to_tensors(train_x[sel], train_y[sel]))
    return out["loss"], lambda: trainer.evaluate(eval_rays, test_x, test_y)[0]

  return _epoch_rows(name, options, len(parts), evals_per_epoch, 0.0, train_part,
                     reference_point)


def plot_time_to_hv(rows: Sequence[Mapping[str, Any]], path: str, title: str = "") -> None:
  """Test hypervolume against training seconds, one line per setting."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, ax = plt.subplots(figsize=(6, 4))
  for name in dict.fromkeys(r["setting"] for r in rows):
    mine = [r for r in rows if r["setting"] == name]
    ax.plot([0] + [r["train_s"] for r in mine], [0] + [r["test_hypervolume"] for r in mine],
            "o-", label=name)
  ax.set_xlabel("training wall time (s)")
  ax.set_ylabel("test hypervolume, ref (2, 2)")
  ax.set_title(title, fontsize=9)
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
