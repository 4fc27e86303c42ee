"""Multi-layer perceptron targets of any widths.

Reference:
  Cubelier, "Sparse hypernetworks", MSc thesis, Liege 2022 (MLP 784-400-400-400-10
  for permuted / split MNIST, no activation after the logits).
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
from flax import linen as nn


class MLP(nn.Module):
  """Dense layers ``hidden`` with ``activation`` between, then ``num_outputs`` logits.

  Inputs of any shape ``[batch, ...]`` are flattened. No activation after the logits.
  """

  hidden: Sequence[int] = (400, 400, 400)
  num_outputs: int = 10
  activation: Callable[[jax.Array], jax.Array] = nn.relu
  use_bias: bool = True

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    x = x.reshape(x.shape[0], -1)
    for width in self.hidden:
      x = self.activation(nn.Dense(width, use_bias=self.use_bias)(x))
    return nn.Dense(self.num_outputs, use_bias=self.use_bias)(x)
