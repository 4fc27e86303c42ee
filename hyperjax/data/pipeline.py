"""Deterministic batching: shuffled per epoch from a seed, fixed batch shapes.

The order of epoch ``e`` depends only on ``(seed, e)``, so a run resumed at any step
sees exactly the batches an uninterrupted run would. The remainder of an epoch that
does not fill a batch is dropped (every step has the same shape: one compiled step).
"""

from __future__ import annotations

import numpy as np


def epoch_permutation(num_examples: int, seed: int, epoch: int) -> np.ndarray:
  """The shuffled example order of one epoch."""
  return np.random.default_rng([seed, epoch]).permutation(num_examples)


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
  if batch_size > num_examples:
    raise ValueError(f"batch_size {batch_size} exceeds the {num_examples} training examples; "
                     "lower config.batch_size.")
  return num_examples // batch_size


def batch_indices(num_examples: int, batch_size: int, seed: int, step: int) -> np.ndarray:
  """Indices of the examples in global step ``step`` (drop-remainder epochs)."""
  per_epoch = steps_per_epoch(num_examples, batch_size)
  epoch, within = divmod(step, per_epoch)
  order = epoch_permutation(num_examples, seed, epoch)
  return order[within * batch_size:(within + 1) * batch_size]
