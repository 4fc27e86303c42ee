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

import ml_collections
import numpy as np

from hyperjax import data as data_lib
from hyperjax.data import pipeline
from hyperjax.pareto import objectives, trainer
from hyperjax.pareto.trainer import STRUCTURAL_KEYS  # noqa: F401  (the launcher reads it)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains a Pareto hypernetwork on a Multi-MNIST-family dataset, evaluates the front
  every ``eval_every_epochs``, writes results (:func:`hyperjax.pareto.train_front`)."""
  if config.num_epochs < 1 or config.batch_size < 1:
    raise ValueError("num_epochs and batch_size must be positive.")
  dataset = data_lib.load_multi(config.data)
  anchors = np.asarray(config.anchors) if config.get("anchors") else None
  solver = config.solver.name
  return trainer.train_front(
      workdir, target=config.target, data={"train": dataset.train, "val": dataset.val,
                                           "test": dataset.test},
      objective=objectives.per_head_cross_entropy(), num_objectives=config.num_objectives,
      hypernet=config.hypernet.to_dict(), solver=config.solver.to_dict(),
      optimizer=config.optimizer.to_dict(), batch_size=config.batch_size,
      num_epochs=config.num_epochs,
      eval_every=config.eval_every_epochs * pipeline.steps_per_epoch(
          len(dataset.train[0]), config.batch_size),
      log_every=config.log_every, num_rays=config.num_rays, ray_alpha=config.ray_alpha,
      ray_batching=config.ray_batching, num_eval_rays=config.num_eval_rays,
      eval_ray_angles=tuple(config.eval_ray_angles), eval_batch_size=config.eval_batch_size,
      eval_ray_chunk=config.eval_ray_chunk or None, reference_point=config.reference_point,
      bn_calibration_batches=config.bn_calibration_batches, seed=config.seed, mesh=config.mesh,
      objective_names=config.get("objective_names"),
      title=f"PHN-{solver.upper()} on {dataset.name}", anchors=anchors, config=config,
      dataset_name=dataset.name, data_source=dataset.source,
      eval_rays=config.get("eval_rays"), evaluate_train=bool(config.get("eval_train")))
