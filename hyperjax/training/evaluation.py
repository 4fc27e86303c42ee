"""Evaluation helpers shared by the experiments."""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from hyperjax.data import pipeline


def accuracy(logits_fn: Callable[[jax.Array], jax.Array], x: np.ndarray, y: np.ndarray,
             batch_size: int, put: Callable[[np.ndarray], Any] = jnp.asarray) -> float:
  """Accuracy of ``logits_fn`` on ``(x, y)``, in padded batches (each example once).

  ``put`` places each input batch (e.g. :meth:`Parallelism.shard_batch`); the logits must
  be readable on this host (replicated when several processes run).
  """
  correct = 0
  for sel, mask in pipeline.padded_batches(len(x), batch_size):
    logits = np.asarray(logits_fn(put(x[sel])))
    correct += int(np.sum((np.argmax(logits, -1) == y[sel]) * mask))
  return correct / len(x)
