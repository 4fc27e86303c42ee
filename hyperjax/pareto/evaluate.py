"""Evaluating a whole front: every ray's weights generated once, all rays batched.

Reference: Navon et al., ICLR 2021 (protocol: per ray, per-task mean cross-entropy and
accuracy on the whole split; hypervolume of the loss points; uniformity).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from hyperjax.data import pipeline
from hyperjax.pareto import metrics
from hyperjax.target import Target, calibrate_states


def make_front_evaluator(hnet: Any, target: Target, batch_size: int, ray_chunk: int | None = None,
                         par: Any = None):
  """Builds ``evaluate(variables, rays, images, labels) -> (losses [E, m], accs [E, m])``.

  The weights of all ``E`` rays are generated once (``vmap``); each batch of the split
  runs through all of them (``vmap`` over rays, or ``lax.map`` over chunks of
  ``ray_chunk`` rays to bound memory). Targets with BatchNorm are evaluated with
  per-ray population statistics (:func:`hyperjax.target.calibrate_states`, all rays
  in one compiled call) from ``calibration`` batches (``[num_batches, batch, ...]``).
  With ``par`` (a :class:`hyperjax.training.sharding.Parallelism`), each batch is split
  over the mesh's ``'data'`` axis and the sums come back replicated.
  """
  jit_sums = jax.jit if par is None else par.jit_replicated
  put = (lambda tree: jax.tree.map(jnp.asarray, tree)) if par is None else par.shard_batch

  @jax.jit
  def generate(variables, rays):
    return jax.vmap(hnet.apply, in_axes=(None, 0))(variables, rays)

  def per_ray(weights, state, images, labels, mask):
    kwargs = {} if state is None else {"state": state, "train": False}
    logits = target.apply(weights, images, **kwargs)
    ce = jnp.stack([optax.softmax_cross_entropy_with_integer_labels(l, labels[:, i])
                    for i, l in enumerate(logits)], -1)
    correct = jnp.stack([jnp.argmax(l, -1) == labels[:, i] for i, l in enumerate(logits)], -1)
    return jnp.sum(ce * mask[:, None], 0), jnp.sum(correct * mask[:, None], 0)

  @jit_sums
  def batch_sums(weights, states, images, labels, mask):
    fn = lambda w, s: per_ray(w, s, images, labels, mask)
    if ray_chunk:
      return jax.lax.map(lambda ws: fn(*ws), (weights, states), batch_size=ray_chunk)
    return jax.vmap(fn)(weights, states)

  def evaluate(variables, rays, images, labels, calibration=None):
    rays = jnp.asarray(rays) if par is None else par.replicate(np.asarray(rays, np.float32))
    weights = generate(variables, rays)
    states = None
    if target.has_state:
      if calibration is None:
        raise ValueError(f"{target.name} has BatchNorm statistics: pass calibration batches.")
      states = calibrate_states(target, weights, calibration, ray_chunk)
    loss_sum, correct = 0.0, 0.0
    for sel, mask in pipeline.padded_batches(len(images), batch_size):
      l, c = batch_sums(weights, states, *put((images[sel], labels[sel], mask)))
      loss_sum, correct = loss_sum + np.asarray(l), correct + np.asarray(c)
    n = len(images)
    return np.asarray(loss_sum) / n, np.asarray(correct) / n

  return evaluate


def front_summary(losses: np.ndarray, accuracies: np.ndarray, rays: np.ndarray,
                  reference_point) -> dict:
  """Hypervolume, uniformity and the per-ray figures of one evaluated front."""
  return {"hypervolume": metrics.hypervolume(losses, reference_point),
          "uniformity": metrics.uniformity(losses, rays),
          "losses": losses, "accuracies": accuracies}
