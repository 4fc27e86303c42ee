"""Evaluating a whole front: every ray's weights generated once, all rays batched.

Reference: Navon et al., ICLR 2021 (protocol: per ray, per-objective mean loss and
accuracy on the whole split; hypervolume of the loss points; uniformity).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hyperjax.data.sources import as_source, batch_field
from hyperjax.pareto import metrics
from hyperjax.pareto.objectives import Objective, evaluate_objective, per_head_cross_entropy
from hyperjax.pareto.step import target_outputs
from hyperjax.target import Target, calibrate_states


def make_front_evaluator(hnet: Any, target: Target, batch_size: int, ray_chunk: int | None = None,
                         par: Any = None, objective: Objective | None = None,
                         inputs_key: int | str | None = None):
  """Builds ``evaluate(variables, rays, data, calibration=None) -> (losses [E, m], metrics)``.

  ``data`` is a split in any form :func:`hyperjax.data.sources.as_source` reads (e.g.
  ``(images, labels)``); ``metrics`` maps each of the objective's metrics to ``[E, m]``
  (``'accuracy'`` for the default per-head cross-entropy). Losses and metrics are means
  over the split (batch means weighted by batch size; the last batch may be smaller).

  The weights of all ``E`` rays are generated once (``vmap``); each batch runs through
  all of them (``vmap`` over rays, or ``lax.map`` over chunks of ``ray_chunk`` rays to
  bound memory). Targets with BatchNorm are evaluated with per-ray population statistics
  (:func:`hyperjax.target.calibrate_states`, all rays in one compiled call) from
  ``calibration`` input batches (``[num_batches, batch, ...]``). With ``par`` (a
  :class:`hyperjax.training.sharding.Parallelism`), batches that divide the mesh's
  ``'data'`` axis are split over it (others are replicated) and the means come back
  replicated.
  """
  objective = objective or per_head_cross_entropy()
  jit_means = jax.jit if par is None else par.jit_replicated

  def put(batch):
    if par is None:
      return jax.tree.map(jnp.asarray, batch)
    if len(jax.tree.leaves(batch)[0]) % par.size("data"):
      return par.replicate(batch)
    return par.shard_batch(batch)

  @jax.jit
  def generate(variables, rays):
    return jax.vmap(hnet.apply, in_axes=(None, 0))(variables, rays)

  def per_ray(weights, state, batch):
    inputs = batch_field(batch, inputs_key, "inputs")
    if state is None:
      outputs = target_outputs(target, weights, inputs, train=False)
    else:
      outputs = target.apply(weights, inputs, state=state, train=False)
    return evaluate_objective(objective, outputs, batch)

  @jit_means
  def batch_means(weights, states, batch):
    fn = lambda w, s: per_ray(w, s, batch)
    if ray_chunk:
      return jax.lax.map(lambda ws: fn(*ws), (weights, states), batch_size=ray_chunk)
    return jax.vmap(fn)(weights, states)

  def evaluate(variables, rays, data, calibration=None):
    rays = jnp.asarray(rays) if par is None else par.replicate(np.asarray(rays, np.float32))
    weights = generate(variables, rays)
    states = None
    if target.has_state:
      if calibration is None:
        raise ValueError(f"{target.name} has BatchNorm statistics: pass calibration batches.")
      states = calibrate_states(target, weights, calibration, ray_chunk)
    total, count = None, 0
    for batch in as_source(data).eval_batches(batch_size):
      n = len(jax.tree.leaves(batch)[0])
      means = jax.tree.map(lambda v: np.asarray(v, np.float64) * n,
                           batch_means(weights, states, put(batch)))
      total = means if total is None else jax.tree.map(np.add, total, means)
      count += n
    if not count:
      raise ValueError("The evaluation split has no examples.")
    losses, mets = jax.tree.map(lambda v: v / count, total)
    return losses, mets

  return evaluate


def front_summary(losses: np.ndarray, scores: dict[str, np.ndarray], rays: np.ndarray,
                  reference_point) -> dict:
  """Hypervolume, uniformity and the per-ray figures of one evaluated front."""
  summary = {"hypervolume": metrics.hypervolume(losses, reference_point),
             "uniformity": metrics.uniformity(losses, rays), "losses": losses}
  for name, value in scores.items():
    summary["accuracies" if name == "accuracy" else name] = value
  return summary
