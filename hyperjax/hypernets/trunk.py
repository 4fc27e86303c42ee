"""The shared trunk of the MLP and chunked families."""

from __future__ import annotations

from typing import Callable, Sequence

import jax
from flax import linen as nn


class MLPTrunk(nn.Module):
  """Dense layers ``hidden`` with ``activation`` between them and none after the last.

  PHN's hypernetworks end their trunk linearly; the output ``c`` is what every output
  head (or chunk matrix) reads, and what hyperfan initialisation measures.
  """

  hidden: Sequence[int]
  activation: Callable[[jax.Array], jax.Array] = nn.relu

  @nn.compact
  def __call__(self, h: jax.Array) -> jax.Array:
    for i, width in enumerate(self.hidden):
      h = nn.Dense(width, name=f"dense_{i}")(h)
      if i < len(self.hidden) - 1:
        h = self.activation(h)
    return h
