"""Objectives of multi-objective learning: ``(outputs, batch) -> losses [m]``.

An objective is any pure function of the target's outputs on a batch and the batch
itself that returns the ``m`` losses (lower is better), or ``(losses [m], metrics)`` with
``metrics`` a dict of per-objective arrays ``[m]`` (e.g. accuracies) to log and report.
Both the training step and the front evaluation use it; evaluation averages losses and
metrics over a split weighted by batch size, so an objective should be a mean over the
examples of its batch.

Built-ins: :func:`per_head_cross_entropy` (one classification head per task, PHN's
Multi-MNIST setup) and :func:`per_output_mse` (one regression output per objective).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from hyperjax.data.sources import batch_field

Objective = Callable[[Any, Any], Any]


def _heads(outputs: Any, m: int | None = None) -> list[jax.Array]:
  """Per-objective outputs: a sequence of arrays, or one array split on its last axis."""
  if isinstance(outputs, (tuple, list)):
    return list(outputs)
  outputs = jnp.asarray(outputs)
  if outputs.ndim == 1:
    return [outputs]
  return [outputs[..., i] for i in range(outputs.shape[-1] if m is None else m)]


def per_head_cross_entropy(labels_key: int | str | None = None) -> Objective:
  """Softmax cross-entropy of head ``i`` against ``labels[:, i]``, and its accuracy.

  The target returns one logits array ``[batch, classes]`` per task (a tuple); the
  batch holds integer labels ``[batch, m]`` (``batch[1]``, ``batch['y']``, or
  ``batch[labels_key]``).
  """

  def objective(outputs, batch):
    labels = batch_field(batch, labels_key, "labels")
    logits = list(outputs)
    losses = jnp.stack([optax.softmax_cross_entropy_with_integer_labels(l, labels[:, i]).mean()
                        for i, l in enumerate(logits)])
    accuracy = jnp.stack([jnp.mean(jnp.argmax(l, -1) == labels[:, i])
                          for i, l in enumerate(logits)])
    return losses, {"accuracy": accuracy}

  return objective


def per_output_mse(targets_key: int | str | None = None) -> Objective:
  """Mean squared error of output ``i`` against target ``i``, and its mean absolute error.

  Outputs: one array per objective (a tuple, each ``[batch]`` or ``[batch, ...]``) or one
  array ``[batch, m]``; targets the same way (``batch[1]``, ``batch['y']``, or
  ``batch[targets_key]``).
  """

  def objective(outputs, batch):
    targets = batch_field(batch, targets_key, "labels")
    preds = _heads(outputs)
    wanted = _heads(targets, len(preds))
    if len(wanted) != len(preds):
      raise ValueError(f"per_output_mse: {len(preds)} outputs but {len(wanted)} targets.")
    errors = [p.reshape(p.shape[0], -1) - t.reshape(t.shape[0], -1)
              for p, t in zip(preds, wanted)]
    losses = jnp.stack([jnp.mean(e ** 2) for e in errors])
    return losses, {"mae": jnp.stack([jnp.mean(jnp.abs(e)) for e in errors])}

  return objective


OBJECTIVES: dict[str, Callable[..., Objective]] = {
    "cross_entropy": per_head_cross_entropy, "mse": per_output_mse}


def make_objective(name: str, **kwargs: Any) -> Objective:
  """A built-in objective by name (:data:`OBJECTIVES`)."""
  if name not in OBJECTIVES:
    raise ValueError(f"Unknown objective {name!r}; choose one of {', '.join(OBJECTIVES)}, or "
                     "pass your own function (outputs, batch) -> losses [m].")
  return OBJECTIVES[name](**kwargs)


def evaluate_objective(objective: Objective, outputs: Any, batch: Any
                       ) -> tuple[jax.Array, dict[str, jax.Array]]:
  """``(losses [m], metrics)`` of any objective (metrics ``{}`` when it returns only losses)."""
  result = objective(outputs, batch)
  if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
    losses, metrics = result
  else:
    losses, metrics = result, {}
  losses = jnp.asarray(losses)
  if losses.ndim != 1:
    raise ValueError(f"An objective must return losses of shape [m], got {losses.shape}.")
  return losses, {k: jnp.asarray(v) for k, v in metrics.items()}
