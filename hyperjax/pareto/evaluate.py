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


def resolve_ray_chunk(ray_chunk: int | str | None) -> int | None:
  """``'auto'`` -> 1 on CPU (one ray at a time: the batch's first-layer work is hoisted
  out of the loop over rays and every op stays unbatched, measured fastest there), 5 on
  accelerators (rays batched by ``vmap``, bounded memory); 0 / None: all rays batched."""
  if ray_chunk == "auto":
    return 1 if jax.default_backend() == "cpu" else 5
  if isinstance(ray_chunk, str) and ray_chunk.isdigit():  # e.g. --config.eval_ray_chunk=5
    ray_chunk = int(ray_chunk)
  if ray_chunk is not None and (not isinstance(ray_chunk, int) or ray_chunk < 0):
    raise ValueError(f"eval_ray_chunk must be 'auto', a positive int, or 0 / None (all rays at once), "
                     f"got {ray_chunk!r}.")
  return ray_chunk or None


def make_front_evaluator(hnet: Any, target: Target, batch_size: int,
                         ray_chunk: int | str | None = "auto", par: Any = None,
                         objective: Objective | None = None,
                         inputs_key: int | str | None = None):
  """Builds ``evaluate(variables, rays, data, calibration=None) -> (losses [E, m], metrics)``.

  ``data`` is a split in any form :func:`hyperjax.data.sources.as_source` reads (e.g.
  ``(images, labels)``); ``metrics`` maps each of the objective's metrics to ``[E, m]``
  (``'accuracy'`` for the default per-head cross-entropy). Losses and metrics are means
  over the split (batch means weighted by batch size; the last batch may be smaller).

  The weights of all ``E`` rays are generated once (``vmap``); each batch runs through
  all of them (``vmap`` over rays, or ``lax.map`` over chunks of ``ray_chunk`` rays to
  bound memory; ``'auto'``: :func:`resolve_ray_chunk`). Batches are dispatched without
  waiting for the previous one's results. Targets with BatchNorm are evaluated with per-ray population statistics
  (:func:`hyperjax.target.calibrate_states`, all rays in one compiled call) from
  ``calibration`` input batches (``[num_batches, batch, ...]``). With ``par`` (a
  :class:`hyperjax.training.sharding.Parallelism`), batches that divide the mesh's
  ``'data'`` axis are split over it (others are replicated) and the means come back
  replicated.
  """
  objective = objective or per_head_cross_entropy()
  ray_chunk = resolve_ray_chunk(ray_chunk)
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
    pending = []  # (batch size, device means): read back once all batches are dispatched
    for batch in as_source(data).eval_batches(batch_size):
      pending.append((len(jax.tree.leaves(batch)[0]), batch_means(weights, states, put(batch))))
    if not pending:
      raise ValueError("The evaluation split has no examples.")
    count = sum(n for n, _ in pending)
    total = jax.tree.map(lambda *vs: sum(np.asarray(v, np.float64) * n
                                         for (n, _), v in zip(pending, vs)),
                         *[means for _, means in pending])
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
