"""Pareto front learning with the user's own model, objectives and data, in one call.

  results = hyperjax.pareto.train_front(
      "runs/mine", target=TwoOutputNet(), data={"train": (x, y), "val": ..., "test": ...},
      objective=hyperjax.pareto.per_output_mse(), num_objectives=2, num_epochs=20)

One hypernetwork takes a preference ray and returns all weights of the target; each
step draws rays from a Dirichlet distribution and follows the solver's update; every
evaluation runs the fixed evaluation rays on the validation and test splits (exact
hypervolume, uniformity, the objective's metrics per ray), and the evaluation with the
best validation hypervolume is reported. The workdir gets what the built-in runs write:
``config.json``, ``metrics.jsonl``, TensorBoard events, Orbax checkpoints (``best/``,
``checkpoints/``), ``results.json`` and ``pareto_front.png``; the same call on the same
workdir resumes exactly, and :func:`hyperjax.pareto.load_pareto_model` loads it back.

References:
  Navon, Shamsian, Chechik, Fetaya. "Learning the Pareto Front with Hypernetworks",
  ICLR 2021 (architecture, protocol, hyperparameters).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any, Mapping, Sequence

import jax
import ml_collections
import numpy as np
import optax
from flax import linen as nn
from flax import nnx
from tqdm import tqdm

from hyperjax import builders
from hyperjax.data import sources as sources_lib
from hyperjax.pareto import evaluate as evaluate_lib
from hyperjax.pareto import plot as plot_lib
from hyperjax.pareto import rays as rays_lib
from hyperjax.pareto.objectives import Objective, per_head_cross_entropy
from hyperjax.pareto.solvers import Solver
from hyperjax.pareto.step import RAY_BATCHING, make_pareto_step, metric_names
from hyperjax.target import Target
from hyperjax.targets.registry import takes_train_arg
from hyperjax.training import loop, sharding

STRUCTURAL_KEYS = ("data.name", "target", "hypernet", "seed", "solver", "num_rays",
                   "ray_batching", "batch_size", "num_objectives")
# PHN's MLP hypernetwork with hyperfan-in init, which scales the generated weights to any
# target's fan-in. (The PHN Multi-MNIST configs use PyTorch's init, measured fastest there to a
# given hypervolume: docs/benchmarks.md.)
DEFAULT_HYPERNET = {"family": "mlp", "kwargs": {"hidden": (100, 100, 100)}, "conditioner": {},
                    "init": "hyperfan_in", "init_scale": 2.0}
DEFAULT_EVAL_ANGLES = (0.1, math.pi / 2 - 0.1)


def _jsonable(value: Any) -> bool:
  try:
    json.dumps(value)
    return True
  except TypeError:
    return False


def module_block(module: Any) -> dict:
  """A target block naming a module instance's class by import path, with its fields
  (so that a fresh process can rebuild it); ``'name': None`` when it cannot be."""
  cls = type(module)
  kwargs = {}
  if isinstance(module, nn.Module):
    kwargs = {f.name: getattr(module, f.name) for f in dataclasses.fields(module)
              if f.name not in ("parent", "name") and f.init}
  importable = cls.__module__ != "__main__" and "<locals>" not in cls.__qualname__
  if not importable or not all(_jsonable(v) for v in kwargs.values()):
    return {"name": None, "kwargs": {}, "class": f"{cls.__module__}.{cls.__qualname__}"}
  return {"name": f"{cls.__module__}:{cls.__qualname__}", "kwargs": kwargs}


def resolve_target(target: Any, input_shape: tuple[int, ...] | None) -> tuple[Target, dict]:
  """``(Target, block)`` from a Target, a Linen/NNX module, a name or a target block."""
  if isinstance(target, Target):
    return target, {"name": None, "kwargs": {}, "class": target.name}
  if isinstance(target, str):
    target = {"name": target, "kwargs": {}}
  if isinstance(target, ml_collections.ConfigDict):
    target = target.to_dict()
  if isinstance(target, Mapping):
    block = {"name": target["name"], "kwargs": dict(target.get("kwargs") or {})}
    if target.get("input_shape"):
      block["input_shape"] = tuple(target["input_shape"])
    return builders.build_target(block, input_shape), block
  block = module_block(target)
  if isinstance(target, nnx.Module):
    return Target.from_nnx(target, input_shape=input_shape), block
  if isinstance(target, nn.Module):
    extra: dict[str, Any] = {"train": False} if takes_train_arg(type(target)) else {}
    sample = jax.ShapeDtypeStruct((1, *input_shape), np.float32)
    return Target.from_linen(target, sample, **extra), block
  raise TypeError(f"target must be a hyperjax.Target, a Flax Linen or NNX module, a name or a "
                  f"target block, got {type(target).__name__}.")


def build_pareto_hypernet(block: Mapping[str, Any], target: Target, seed: int, ray_alpha: float,
                          num_objectives: int) -> tuple[Any, Any]:
  """``(hnet, variables)`` as every Pareto run initialises them: ``block``'s family, its
  hyperfan statistics measured on 256 Dirichlet(``ray_alpha``) rays of seed ``seed + 1``.
  Training, :func:`~hyperjax.pareto.load_pareto_model` and the benchmarks all build here,
  so a checkpoint always fits the hypernetwork it is loaded into."""
  init_rays = rays_lib.sample_rays(jax.random.key(seed + 1), 256, ray_alpha, num_objectives)
  return builders.build_hypernet(block, target, init_rays, seed)


def _solver_block(solver: Any) -> tuple[Solver, dict]:
  if isinstance(solver, Solver):
    return solver, {"name": solver.name, "kwargs": {}}
  block = {"name": solver, "kwargs": {}} if isinstance(solver, str) else {
      "name": solver["name"], "kwargs": dict(solver.get("kwargs") or {})}
  return builders.build_solver(block), block


def _optimizer_block(optimizer: Any) -> tuple[optax.GradientTransformation, dict]:
  if optimizer is None:
    optimizer = {"name": "adam", "learning_rate": 1e-4}  # PHN's
  if isinstance(optimizer, optax.GradientTransformation):
    return optimizer, {"name": "custom"}
  block = dict(optimizer)
  return builders.build_optimizer(block), block


def _check(num_rays: int, ray_batching: str, batch_size: int, ray_alpha: float,
           reference_point: Sequence[float], m: int) -> None:
  if ray_batching not in RAY_BATCHING:
    raise ValueError(f"Unknown ray_batching {ray_batching!r}; choose one of {RAY_BATCHING}.")
  if num_rays < 1:
    raise ValueError(f"num_rays must be at least 1, got {num_rays}.")
  if batch_size < 1:
    raise ValueError(f"batch_size must be positive, got {batch_size}.")
  if ray_batching == "split" and batch_size % num_rays:
    raise ValueError(f"batch_size {batch_size} must be divisible by num_rays {num_rays} with "
                     "ray_batching='split'.")
  if not (ray_alpha > 0 and np.isfinite(ray_alpha)):
    raise ValueError(f"ray_alpha must be positive, got {ray_alpha}.")
  ref = tuple(reference_point)
  if len(ref) != m or not all(np.isfinite(ref)):
    raise ValueError(f"reference_point must be {m} finite numbers, got {ref}.")


def train_front(workdir: str, *, target: Any, data: Mapping[str, Any],
                objective: Objective | None = None, num_objectives: int = 2,
                hypernet: Mapping[str, Any] | None = None, solver: Any = "ls",
                optimizer: Any = None, batch_size: int = 256, num_epochs: int | None = None,
                num_steps: int | None = None, eval_every: int | None = None, log_every: int = 50,
                num_rays: int = 1, ray_alpha: float = 0.2, ray_batching: str = "whole",
                num_eval_rays: int = 25, eval_ray_angles: Sequence[float] = DEFAULT_EVAL_ANGLES,
                eval_batch_size: int = 500, eval_ray_chunk: int | str | None = "auto",
                reference_point: Sequence[float] | None = None,
                objective_names: Sequence[str] | None = None,
                inputs_key: int | str | None = None, bn_calibration_batches: int = 10,
                seed: int = 0, mesh: str = "data=-1", title: str | None = None,
                anchors: Any = None,
                config: ml_collections.ConfigDict | None = None,
                dataset_name: str = "custom", data_source: str = "user",
                progress_bar: bool = True,
                front_metrics: Any = None, eval_rays: Any = None,
                evaluate_train: bool = False) -> dict:
  """Trains a Pareto hypernetwork on the user's target, objectives and data.

  Args:
    workdir: the run directory (created; an existing run there is resumed).
    target: a Flax Linen or NNX module (instance), a :class:`~hyperjax.target.Target`,
      a registered target name / ``'pkg.module:Class'``, or a target block.
    data: ``{'train': ..., 'val': ..., 'test': ...}`` (``val``/``test`` optional), each
      anything :func:`hyperjax.data.sources.as_source` reads: a tuple or dict of arrays,
      a random-access source (tfds / grain), or an iterable of batches.
    objective: ``(outputs, batch) -> losses [m]`` or ``(losses, metrics)`` (default:
      :func:`~hyperjax.pareto.objectives.per_head_cross_entropy`).
    num_objectives: ``m``.
    hypernet: a hypernetwork block (default: PHN's MLP, 100-100-100, hyperfan-in init).
    solver: a name (``'ls'``, ``'epo'``, ``'chebyshev'``, ``'cpmtl'``), a block
      ``{'name', 'kwargs'}`` or a :class:`~hyperjax.pareto.solvers.Solver`.
    optimizer: an optimizer block (default Adam 1e-4, PHN's) or an optax transformation.
    batch_size: training batch size (iterables yield their own batches).
    num_epochs / num_steps: the training length (one of them; iterables need steps).
    eval_every: steps between evaluations (default: one epoch, or ``num_steps // 10``).
    log_every: steps between logged training means.
    num_rays / ray_alpha / ray_batching: rays per step, Dirichlet concentration, and
      whether each ray sees the whole batch or a slice of it.
    num_eval_rays / eval_ray_angles: the evaluation rays (two objectives: evenly spaced
      angles; more: a simplex lattice).
    eval_batch_size / eval_ray_chunk: evaluation batch size; rays evaluated together
      (``'auto'``: one at a time on CPU, 5 on accelerators).
    reference_point: the hypervolume's reference point (default: 2 per objective).
    objective_names: labels of the objectives in logs and plots.
    inputs_key: where the target's input is in a batch (default ``batch[0]`` / ``'x'``).
    bn_calibration_batches: training batches for per-ray BatchNorm statistics.
    seed: initialisation, batch order and ray seed.
    mesh: device mesh (:mod:`hyperjax.training.sharding`).
    title: the front plot's title.
    anchors: single-task anchor points drawn with the front.
    config: the experiment config to record (the built-in launcher's); by default the
      arguments are recorded.
    dataset_name / data_source: labels recorded in the results.
    progress_bar: a live progress bar (False: one line per evaluation, for notebooks).
    front_metrics: ``(losses [E, m], rays [E, m]) -> {name: float}``, more scores of each
      evaluated front (e.g. distances to a known front, :mod:`hyperjax.pareto.problems`),
      logged per split and reported as ``test_<name>``.
    eval_rays: explicit evaluation rays ``[E, m]`` (on the simplex) instead of
      ``num_eval_rays`` / ``eval_ray_angles``, e.g. the preferences of a baseline.
    evaluate_train: evaluate the front on the training split too (``train_*`` records,
      ``train_losses`` / ``train_accuracies`` at the selected evaluation in the results).

  Returns:
    The results (also written to ``workdir/results.json``).
  """
  m = int(num_objectives)
  reference_point = tuple(float(v) for v in (reference_point or (2.0,) * m))
  _check(num_rays, ray_batching, batch_size, ray_alpha, reference_point, m)
  names = metric_names(m, objective_names)
  solver_obj, solver_block = _solver_block(solver)
  optimizer_obj, optimizer_block = _optimizer_block(optimizer)
  if "train" not in data:
    raise ValueError(f"data needs a 'train' split, got {sorted(data)}.")
  splits = {k: sources_lib.as_source(v) for k, v in data.items() if v is not None}
  unknown = set(splits) - {"train", "val", "test"}
  if unknown:
    raise ValueError(f"Unknown data split(s) {sorted(unknown)}; use train, val and test.")
  train = splits["train"]
  per_epoch = sources_lib.steps_per_epoch(train, batch_size)
  if (num_epochs is None) == (num_steps is None):
    raise ValueError("Give the training length as num_epochs or num_steps (one of them).")
  if num_epochs is not None and per_epoch is None:
    raise ValueError("An iterable of batches has no epochs: give num_steps.")
  total = num_steps if num_steps is not None else num_epochs * per_epoch
  if total < 1:
    raise ValueError(f"The run has {total} training steps; give a positive length.")
  eval_every = eval_every or per_epoch or max(1, total // 10)

  objective = objective or per_head_cross_entropy()
  par = sharding.from_config({"mesh": mesh}, batch_size)
  target_obj, target_block = resolve_target(
      target, sources_lib.example_shape(train, inputs_key))
  if target_obj.input_shape is not None:
    target_block["input_shape"] = tuple(target_obj.input_shape)
  hnet_block = {**DEFAULT_HYPERNET, **dict(hypernet or {})}
  hnet, variables = build_pareto_hypernet(hnet_block, target_obj, seed, ray_alpha, m)
  num_hnet = sum(x.size for x in jax.tree.leaves(variables))
  par = par.for_model(hnet)
  if config is not None and target_obj.input_shape is not None and not (
      config.target.get("input_shape") if hasattr(config.target, "get") else None):
    # Record the input shape the target was built for, so that a fresh process can rebuild
    # it (load_pareto_model) from config.json alone.
    config = ml_collections.ConfigDict(config.to_dict())
    config.target.input_shape = tuple(target_obj.input_shape)
  if config is None:
    config = ml_collections.ConfigDict({
        "experiment": "pareto", "seed": seed, "mesh": mesh, "num_objectives": m,
        "data": {"name": dataset_name}, "target": target_block,
        "hypernet": dict(hnet_block), "solver": solver_block,
        "optimizer": optimizer_block, "num_rays": num_rays, "ray_alpha": ray_alpha,
        "ray_batching": ray_batching, "batch_size": batch_size, "num_steps": total,
        "eval_every": eval_every, "reference_point": reference_point,
        "num_eval_rays": num_eval_rays, "eval_ray_angles": tuple(eval_ray_angles),
        "objective_names": names})
  print(f"{solver_block['name'].upper()} | target {target_obj.name}: {target_obj.num_params:,} "
        f"params | hypernet {hnet_block['family']}: {num_hnet:,} params | data {dataset_name} "
        f"from {data_source}: " + " / ".join(
            f"{s.num_examples:,} {k}" if s.num_examples is not None else f"{k} (iterable)"
            for k, s in splits.items()))
  print(par.describe(variables))

  step_fn = make_pareto_step(hnet, target_obj, optimizer_obj, solver_obj, objective,
                             num_objectives=m, num_rays=num_rays, ray_alpha=ray_alpha,
                             ray_batching=ray_batching, inputs_key=inputs_key,
                             objective_names=names, par=par)
  if eval_rays is None:
    low, high = (float(a) for a in eval_ray_angles)
    eval_rays = rays_lib.evaluation_rays(num_eval_rays, m, (low, high))
  else:
    eval_rays = rays_lib.validate_rays(eval_rays, m)
  evaluator = evaluate_lib.make_front_evaluator(hnet, target_obj, eval_batch_size,
                                                eval_ray_chunk, par, objective,
                                                inputs_key)
  base_key = jax.random.key(seed + 2)
  calibration = None
  if target_obj.has_state:
    calibration = par.replicate(np.stack(
        [np.asarray(sources_lib.batch_field(train.train_batch(s, batch_size, seed), inputs_key))
         for s in range(bn_calibration_batches)]))
  eval_splits = [s for s in ("train",) * evaluate_train + ("val", "test") if s in splits]

  def train_step(state, step):
    batch = train.place_train_batch(step, batch_size, seed, par)
    return step_fn(state, batch, par.replicate(jax.random.fold_in(base_key, step)))

  def evaluate(state, step):
    record: dict[str, Any] = {"epoch": step // per_epoch} if per_epoch else {}
    for split in eval_splits:
      losses, scores = evaluator(state["params"], eval_rays, splits[split], calibration)
      summary = evaluate_lib.front_summary(losses, scores, eval_rays, reference_point)
      if front_metrics is not None:
        summary.update(front_metrics(np.asarray(losses), eval_rays))
      if summary["hypervolume"] == 0:
        tqdm.write(f"{split} hypervolume 0: every point lies outside the reference box "
                   f"{reference_point}; raise reference_point to measure this front.")
      for key, value in summary.items():
        record[f"{split}_{key}"] = value
      if jax.process_index() == 0:  # the front of this evaluation, for TensorBoard
        path = os.path.join(workdir, "tensorboard", f"front_{split}.png")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        plot_lib.plot_front(path, np.asarray(losses), eval_rays, title=f"{split}, step {step}",
                            hypervolume=summary["hypervolume"], reference_point=reference_point,
                            labels=names)
        record.setdefault("images", {})[f"front/{split}"] = path
    return record

  best_key = "val_hypervolume" if "val" in splits else None

  def summarize(state, evaluations):
    del state
    best = max(evaluations, key=lambda e: e[best_key]) if best_key else evaluations[-1]
    report = "test" if "test" in splits else eval_splits[0] if eval_splits else None
    results: dict[str, Any] = {
        "experiment": "pareto", "solver": solver_block["name"],
        "reference_point": list(reference_point), "rays": eval_rays,
        "objective_names": names, "best_step": best["step"],
        "num_params": {"hypernet": num_hnet, "target": target_obj.num_params},
        "data_source": data_source, "dataset": dataset_name,
        "data_sizes": {k: s.num_examples for k, s in splits.items()},
        "steps_per_epoch": per_epoch, "config": config.to_dict()}
    if "epoch" in best:
      results["best_epoch"] = best["epoch"]
    if report is None:
      return results
    results["hypervolume"] = best[f"{report}_hypervolume"]
    results["uniformity"] = best[f"{report}_uniformity"]
    if best_key:
      results["val_hypervolume"] = best["val_hypervolume"]
    results[f"final_{report}_hypervolume"] = evaluations[-1][f"{report}_hypervolume"]
    for key, value in best.items():
      if key.startswith(f"{report}_") and key not in (f"{report}_hypervolume",
                                                       f"{report}_uniformity"):
        results[f"test_{key[len(report) + 1:]}"] = value
    for split in ("train", "val"):  # the selected evaluation's per-ray figures of these too
      for key in ("losses", "accuracies"):
        if split in eval_splits and f"{split}_{key}" in best:
          results[f"{split}_{key}"] = best[f"{split}_{key}"]
    if "test_accuracies" in results:
      results["mean_test_accuracy"] = np.mean(results["test_accuracies"], axis=0)
    if jax.process_index() == 0:
      plot_lib.plot_front(os.path.join(workdir, "pareto_front.png"),
                          np.asarray(results["test_losses"]), eval_rays,
                          title=title or f"PHN-{solver_block['name'].upper()} ({report})",
                          anchors=None if anchors is None else np.asarray(anchors),
                          hypervolume=results["hypervolume"], reference_point=reference_point,
                          labels=names)
    return results

  def init_state():
    return par.create_train_state(optimizer_obj, variables)

  experiment = loop.Experiment(init_state=init_state, train_step=train_step, evaluate=evaluate,
                               summarize=summarize, num_steps=total, eval_every=eval_every,
                               log_every=log_every, best_key=best_key,
                               description="train (loss: ray-weighted; loss_<task>: each task)")
  results = loop.run(experiment, workdir, config, STRUCTURAL_KEYS, progress_bar=progress_bar)
  if "hypervolume" in results:
    where = f"epoch {results['best_epoch']}" if "best_epoch" in results else \
        f"step {results['best_step']}"
    print(f"test hypervolume {results['hypervolume']:.4f} (ref {reference_point}) at {where}"
          + (f" (best validation HV {results['val_hypervolume']:.4f})"
             if "val_hypervolume" in results else "")
          + f"; uniformity {results['uniformity']:.4f}")
  return results
