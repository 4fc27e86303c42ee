"""The multi-task CNN of a student study of Controllable Pareto MTL on Multi-MNIST.

The study gives three convolutions with (32, 64, 96) filters, two max-pools, a shared
dense layer, dropout and one dense head per task (RMSprop, 50 epochs); it does not give
the kernel size, padding, dense width or dropout rate. Here: 3x3 kernels with 'valid'
padding (Keras' default), a max-pool after the first two convolutions, 128 dense units and
dropout 0.5 after them: 384,116 parameters for two tasks of ten classes on 36x36 canvases.
"""

from __future__ import annotations

from typing import Sequence

import jax
from flax import linen as nn


class MultiTaskCNN(nn.Module):
  """conv 3x3 (32) -> pool -> conv 3x3 (64) -> pool -> conv 3x3 (96) -> dense 128 ->
  dropout -> one head per task. Input ``[batch, 36, 36, 1]``; output a tuple of
  ``num_tasks`` logits arrays. ``train=True`` with a ``'dropout'`` rng enables dropout."""

  filters: Sequence[int] = (32, 64, 96)
  dense: int = 128
  dropout_rate: float = 0.5
  num_tasks: int = 2
  num_classes: int = 10

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> tuple[jax.Array, ...]:
    for i, width in enumerate(self.filters):
      x = nn.relu(nn.Conv(width, (3, 3), padding="VALID", name=f"Conv_{i}")(x))
      if i < len(self.filters) - 1:
        x = nn.max_pool(x, (2, 2), (2, 2))
    x = x.reshape(x.shape[0], -1)
    x = nn.relu(nn.Dense(self.dense, name="shared")(x))
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    return tuple(nn.Dense(self.num_classes, name=f"head_{t}")(x) for t in range(self.num_tasks))
