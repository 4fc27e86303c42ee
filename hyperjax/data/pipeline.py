"""Input pipeline: deterministic batches of fixed shape, augmentation, device placement.

* Training batches: shuffled per epoch; the order of epoch ``e`` depends only on
  ``(seed, e)``, so a run resumed at any step sees exactly the batches an uninterrupted
  run would. The remainder of an epoch that does not fill a batch is **dropped** (every
  step has the same shape: one compiled step).
* Evaluation batches: every example exactly once; the last batch is **padded** to the
  full size and comes with a 0/1 mask, so evaluation also compiles once.
* Augmentation: pad-and-crop (Ha et al.'s MNIST protocol: pad to 30, crop 28), drawn
  from ``(seed, step)``.
* Placement on devices: :class:`hyperjax.training.sharding.Parallelism` (``shard_batch``,
  ``gather_rows``).
"""

from __future__ import annotations

import functools
from typing import Iterator

import numpy as np


@functools.lru_cache(maxsize=4)
def epoch_permutation(num_examples: int, seed: int, epoch: int) -> np.ndarray:
  """The shuffled example order of one epoch (computed once per epoch; read-only)."""
  order = np.random.default_rng([seed, epoch]).permutation(num_examples)
  order.flags.writeable = False
  return order


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


def padded_batches(num_examples: int, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
  """``(indices [batch_size], mask [batch_size] float32)`` covering each example once.

  The last batch repeats index 0 as padding, with mask 0 there.
  """
  for start in range(0, num_examples, batch_size):
    sel = np.arange(start, min(start + batch_size, num_examples))
    mask = np.ones(batch_size, np.float32)
    if len(sel) < batch_size:
      mask[len(sel):] = 0
      sel = np.concatenate([sel, np.zeros(batch_size - len(sel), sel.dtype)])
    yield sel, mask


def pad_and_crop(images: np.ndarray, pad: int, seed: int, step: int) -> np.ndarray:
  """Zero-pads ``[n, H, W, C]`` images by ``pad`` and crops each back at a random offset."""
  if pad <= 0:
    return images
  n, h, w, _ = images.shape
  padded = np.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
  rng = np.random.default_rng([seed, step, 1])
  dy, dx = rng.integers(0, 2 * pad + 1, (2, n))
  rows = dy[:, None] + np.arange(h)[None, :]
  cols = dx[:, None] + np.arange(w)[None, :]
  return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
