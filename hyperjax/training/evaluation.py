"""Evaluation helpers shared by the experiments."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from hyperjax.data import pipeline


def accuracy(logits_fn: Callable[[jax.Array], jax.Array], x: np.ndarray, y: np.ndarray,
             batch_size: int) -> float:
  """Accuracy of ``logits_fn`` on ``(x, y)``, in padded batches (each example once)."""
  correct = 0
  for sel, mask in pipeline.padded_batches(len(x), batch_size):
    logits = logits_fn(jnp.asarray(x[sel]))
    correct += int(jnp.sum((jnp.argmax(logits, -1) == jnp.asarray(y[sel])) * mask))
  return correct / len(x)
