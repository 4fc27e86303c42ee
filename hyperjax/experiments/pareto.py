"""Pareto HyperNetworks end to end: PHN-LS, PHN-EPO, Chebyshev, Controllable Pareto MTL.

One hypernetwork takes a preference ray and returns a multi-task target; training draws
rays from a Dirichlet distribution, evaluation runs the fixed evaluation rays on the
validation and test splits, and the epoch with the best validation hypervolume is
reported (its test figures are the results).

References:
  Navon, Shamsian, Chechik, Fetaya. "Learning the Pareto Front with Hypernetworks",
  ICLR 2021 (architecture, protocol, hyperparameters).
  Lin, Yang, Zhang, Kwong. "Controllable Pareto Multi-Task Learning", 2020.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from hyperjax import data as data_lib
from hyperjax.data import pipeline
from hyperjax.hypernets import PHN_RESNET18_PRESETS, Conditioner, init_hypernet, make_hypernet
from hyperjax.hypernets.factory import as_kwargs
from hyperjax.pareto import evaluate as evaluate_lib
from hyperjax.pareto import plot as plot_lib
from hyperjax.pareto import rays as rays_lib
from hyperjax.pareto import solvers, step as step_lib
from hyperjax.targets import make_target
from hyperjax.training import loop, sharding

STRUCTURAL_KEYS = ("data.name", "target", "hypernet", "seed", "solver", "num_rays",
                   "ray_batching", "batch_size", "num_objectives")
INPUT_SHAPE = (36, 36, 1)


def validate_config(config: ml_collections.ConfigDict) -> None:
  """Refuses bad values before anything is built or written."""
  lr = config.learning_rate
  if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
    raise ValueError(f"learning_rate must be a positive finite number, got {lr}.")
  if config.solver not in solvers.SOLVERS:
    raise ValueError(f"Unknown solver {config.solver!r}; choose one of {', '.join(solvers.SOLVERS)}.")
  if config.ray_batching not in step_lib.RAY_BATCHING:
    raise ValueError(f"Unknown ray_batching {config.ray_batching!r}; choose one of "
                     f"{step_lib.RAY_BATCHING}.")
  if config.num_rays < 1:
    raise ValueError(f"num_rays must be at least 1, got {config.num_rays}.")
  if config.ray_batching == "split" and config.batch_size % config.num_rays:
    raise ValueError(f"batch_size {config.batch_size} must be divisible by num_rays "
                     f"{config.num_rays} with ray_batching='split'.")
  if not (config.ray_alpha > 0 and np.isfinite(config.ray_alpha)):
    raise ValueError(f"ray_alpha must be positive, got {config.ray_alpha}.")
  ref = tuple(config.reference_point)
  if len(ref) != config.num_objectives or not all(np.isfinite(ref)):
    raise ValueError(f"reference_point must be {config.num_objectives} finite numbers, got {ref}.")
  if config.num_epochs < 1 or config.batch_size < 1:
    raise ValueError("num_epochs and batch_size must be positive.")


def build_target(config: ml_collections.ConfigDict) -> Any:
  """The multi-head target network of a Pareto config."""
  return make_target(config.target.name, input_shape=INPUT_SHAPE,
                     num_tasks=config.num_objectives, **as_kwargs(config.target.kwargs))


def epoch_experiment(config: ml_collections.ConfigDict, steps_per_epoch: int, best_key: str,
                     **pieces: Any) -> loop.Experiment:
  """The loop's :class:`Experiment` for a config counted in epochs (``num_epochs``,
  ``eval_every_epochs``, ``log_every``); ``pieces`` are its step/evaluation callables."""
  return loop.Experiment(**pieces, num_steps=config.num_epochs * steps_per_epoch,
                         eval_every=config.eval_every_epochs * steps_per_epoch,
                         log_every=config.log_every, best_key=best_key)


def build_model(config: ml_collections.ConfigDict) -> tuple[Any, Any, Any]:
  """``(target, hnet, variables)`` as the config describes (deterministic in the seed)."""
  target = build_target(config)
  cond = as_kwargs(config.hypernet.get("conditioner"))
  conditioner = Conditioner(**cond) if cond else None
  hnet = make_hypernet(config.hypernet.family, target.spec, conditioner,
                       **as_kwargs(config.hypernet.kwargs))
  init_rays = rays_lib.sample_rays(jax.random.key(config.seed + 1), 256, config.ray_alpha,
                                   config.num_objectives)
  hnet, variables = init_hypernet(hnet, jax.random.key(config.seed), init_rays,
                                  config.hypernet.init, config.hypernet.init_scale)
  return target, hnet, variables


def solver_options(config: ml_collections.ConfigDict) -> dict:
  if config.solver == "epo":
    return {"eps": config.epo_eps, "relax": config.epo_relax}
  if config.solver == "cpmtl":
    refs = rays_lib.evaluation_rays(config.cpmtl_num_references, config.num_objectives)
    return {"references": jnp.asarray(refs, jnp.float32), "eps": config.cpmtl_eps}
  return {}


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains a Pareto hypernetwork, evaluates the front every epoch, writes results."""
  validate_config(config)
  par = sharding.from_config(config)
  dataset = data_lib.load_multi(config.data)
  target, hnet, variables = build_model(config)
  train_x, train_y = dataset.train
  num_hnet = sum(x.size for x in jax.tree.leaves(variables))
  print(f"{config.solver.upper()} | target {target.name}: {target.num_params:,} params | "
        f"hypernet {config.hypernet.family}: {num_hnet:,} params | data {dataset.name} from "
        f"{dataset.source}: {len(train_x):,} train / {len(dataset.val[0]):,} val / "
        f"{len(dataset.test[0]):,} test")
  print(par.describe(variables))

  optimizer = optax.adam(config.learning_rate)
  train_mode = True if target.has_state else None
  step_fn = step_lib.make_train_step(
      hnet, target, optimizer, solver=config.solver, num_objectives=config.num_objectives,
      num_rays=config.num_rays, ray_alpha=config.ray_alpha, ray_batching=config.ray_batching,
      solver_options=solver_options(config), train_mode=train_mode, par=par)
  steps_per_epoch = pipeline.steps_per_epoch(len(train_x), config.batch_size)
  eval_rays = rays_lib.evaluation_rays(config.num_eval_rays, config.num_objectives,
                                       tuple(config.eval_ray_angles))
  evaluator = evaluate_lib.make_front_evaluator(hnet, target, config.eval_batch_size,
                                                config.eval_ray_chunk or None, par)
  base_key = jax.random.key(config.seed + 2)
  calibration = None
  if target.has_state:
    calibration = par.replicate(np.stack(
        [train_x[pipeline.batch_indices(len(train_x), config.batch_size, config.seed, s)]
         for s in range(config.bn_calibration_batches)]))

  def train_step(state, step):
    sel = pipeline.batch_indices(len(train_x), config.batch_size, config.seed, step)
    return step_fn(state, *par.gather_rows((train_x, train_y), sel),
                   par.replicate(jax.random.fold_in(base_key, step)))

  def evaluate(state, step):
    record = {"epoch": step // steps_per_epoch}
    for split in ("val", "test"):
      images, labels = getattr(dataset, split)
      losses, accs = evaluator(state["params"], eval_rays, images, labels, calibration)
      summary = evaluate_lib.front_summary(losses, accs, eval_rays, config.reference_point)
      record[f"{split}_hypervolume"] = summary["hypervolume"]
      record[f"{split}_uniformity"] = summary["uniformity"]
      record[f"{split}_losses"] = summary["losses"]
      record[f"{split}_accuracies"] = summary["accuracies"]
    return record

  def summarize(state, evaluations):
    del state
    best = max(evaluations, key=lambda e: e["val_hypervolume"])
    results = {
        "experiment": "pareto",
        "solver": config.solver,
        "hypervolume": best["test_hypervolume"],
        "val_hypervolume": best["val_hypervolume"],
        "reference_point": list(config.reference_point),
        "rays": eval_rays,
        "test_losses": best["test_losses"],
        "test_accuracies": best["test_accuracies"],
        "mean_test_accuracy": np.mean(best["test_accuracies"], axis=0),
        "uniformity": best["test_uniformity"],
        "best_epoch": best["epoch"],
        "best_step": best["step"],
        "final_test_hypervolume": evaluations[-1]["test_hypervolume"],
        "num_params": {"hypernet": num_hnet, "target": target.num_params},
        "data_source": dataset.source,
        "dataset": dataset.name,
        "data_sizes": {"train": len(train_x), "val": len(dataset.val[0]),
                       "test": len(dataset.test[0])},
        "epochs": config.num_epochs,
        "steps_per_epoch": steps_per_epoch,
        "config": config.to_dict(),
    }
    if jax.process_index() == 0:
      anchors = np.asarray(config.anchors) if config.get("anchors") else None
      plot_lib.plot_front(os.path.join(workdir, "pareto_front.png"),
                          np.asarray(best["test_losses"]), eval_rays,
                          title=f"PHN-{config.solver.upper()} on {dataset.name} "
                                f"(epoch {best['epoch']}, test)",
                          anchors=anchors, hypervolume=best["test_hypervolume"],
                          reference_point=config.reference_point)
    return results

  def init_state():
    return par.create_train_state(optimizer, variables)

  experiment = epoch_experiment(config, steps_per_epoch, "val_hypervolume",
                                init_state=init_state, train_step=train_step,
                                evaluate=evaluate, summarize=summarize)
  results = loop.run(experiment, workdir, config, STRUCTURAL_KEYS)
  print(f"test hypervolume {results['hypervolume']:.4f} (ref {tuple(config.reference_point)}) at "
        f"epoch {results['best_epoch']} (best validation HV {results['val_hypervolume']:.4f}); "
        f"uniformity {results['uniformity']:.4f}")
  return results


def base_config(dataset: str, arg: str | None = None) -> ml_collections.ConfigDict:
  """PHN's paper setup on a Multi-MNIST-family dataset; ``arg`` is comma-separated.

  ``arg`` may name a solver (``ls``, ``epo``, ``chebyshev``, ``cpmtl``), a chunked
  ResNet-18 preset (``11M``, ``5M``, ``2M``, ``1M``: PHN's ResNet-18 target with 1-channel
  stem, BatchNorm, generated by the chunked hypernetwork of that size; default: the
  LeNet and its MLP hypernetwork) and one size: ``tiny`` (same architecture, a few
  thousand canvases, 2 epochs -- 160 canvases, batch 32, 1 epoch for ResNet-18 -- well under a
  minute on 2 CPU cores; falls back to the embedded sample when no local copy exists) or
  ``embedded`` (the embedded MNIST/Fashion sample, 10 epochs: the README quickstart).
  ``single_task`` trains the single-task anchors instead (one target per task, see
  :mod:`hyperjax.experiments.single_task`).
  """
  import math  # pylint: disable=g-import-not-at-top
  args = [a for a in (arg or "").split(",") if a]
  config = ml_collections.ConfigDict()
  config.experiment = "pareto"
  config.seed = 42
  # Devices: axis=size pairs over data/model/ray/task (hyperjax.training.sharding).
  config.mesh = "data=-1"
  config.data = data_lib.default_data_config(dataset)
  config.num_objectives = 2

  config.target = ml_collections.ConfigDict()
  config.target.name = "phn_lenet"
  config.target.kwargs = ml_collections.ConfigDict({"conv_impl": "patches"})
  config.hypernet = ml_collections.ConfigDict()
  config.hypernet.family = "mlp"
  config.hypernet.kwargs = ml_collections.ConfigDict({"hidden": (100, 100, 100)})
  config.hypernet.conditioner = ml_collections.ConfigDict()
  # PHN relied on PyTorch's default init; Flax's default makes the generated LeNet weights
  # ~100x too large (initial loss ~40). Hyperfan-in (He gain) gives the target's own scale.
  config.hypernet.init = "hyperfan_in"
  config.hypernet.init_scale = 2.0

  config.solver = "ls"
  config.epo_eps = 1e-4
  config.epo_relax = False
  config.cpmtl_num_references = 5
  config.cpmtl_eps = 1e-3
  config.num_rays = 1
  config.ray_alpha = 0.2
  config.ray_batching = "whole"

  config.learning_rate = 1e-4
  config.batch_size = 256
  config.num_epochs = 150
  config.eval_every_epochs = 1
  config.log_every = 50
  config.reference_point = (2.0, 2.0)
  config.num_eval_rays = 25
  config.eval_ray_angles = (0.1, math.pi / 2 - 0.1)
  config.eval_batch_size = 500
  config.eval_ray_chunk = 5
  config.bn_calibration_batches = 10
  config.anchors = ml_collections.FieldReference(None, field_type=list)

  for a in args:
    if a in solvers.SOLVERS:
      config.solver = a
    elif a == "single_task":
      config.experiment = "single_task"
    elif a in PHN_RESNET18_PRESETS:
      _use_chunked_resnet18(config, a)
    elif a == "tiny":
      config.data.allow_embedded = True
      config.data.num_train = 3000
      config.data.num_test = 1000
      config.num_epochs = 2
    elif a == "embedded":
      config.data.source = "embedded"
      config.num_epochs = 10
    else:
      raise ValueError(f"Unknown config argument {a!r}; use a solver "
                       f"({', '.join(solvers.SOLVERS)}), a ResNet-18 preset "
                       f"({', '.join(PHN_RESNET18_PRESETS)}), 'single_task' and/or 'tiny' or "
                       "'embedded', comma-separated.")
  if "tiny" in args and config.target.name == "phn_resnet18":
    # ResNet-18 costs ~100x the LeNet per image on CPU: shrink data and evaluation further.
    config.data.num_train = 160
    config.data.num_test = 64
    config.batch_size = 32
    config.num_epochs = 1
    config.num_eval_rays = 3
    config.eval_batch_size = 64
    config.bn_calibration_batches = 1
  return config


def _use_chunked_resnet18(config: ml_collections.ConfigDict, preset: str) -> None:
  """PHN's chunked ResNet-18 (REFERENCE: 11,443,156-parameter target; 10,000-row chunks).

  The ray is embedded as ``sum_i r_i E_i`` (32 dims, no bias), concatenated with a 64-dim
  learned chunk embedding and mapped by a 96->100->100->100 MLP; each chunk's vector
  goes through ``num_ws`` output matrices of 10000x100. BatchNorm normalises with batch
  statistics in training; evaluation uses per-ray calibrated population statistics
  (``bn_calibration_batches`` training batches), not the test batch's statistics.
  """
  num_chunks, num_ws = PHN_RESNET18_PRESETS[preset]
  config.target.name = "phn_resnet18"
  config.target.kwargs = ml_collections.ConfigDict()
  config.hypernet.family = "chunked"
  config.hypernet.kwargs = ml_collections.ConfigDict(
      {"num_chunks": num_chunks, "num_ws": num_ws, "chunk_size": 10_000,
       "chunk_embedding_dim": 64, "hidden": (100, 100, 100)})
  config.hypernet.conditioner = ml_collections.ConfigDict({"vector_projection": 32})
