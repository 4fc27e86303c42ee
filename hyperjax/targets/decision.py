"""A decision vector as a target: the hypernetwork generates ``x`` itself.

For synthetic multi-objective problems (:mod:`hyperjax.pareto.problems`) the "model" is
the decision vector: its only weight is ``x [dim]`` and its output, for any batch, is
``x`` repeated per example, so a Pareto hypernetwork maps each ray to a point ``x(r)``
and the problem's objective scores it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import linen as nn


class DecisionVector(nn.Module):
  """Weights: ``x [dim]``; ``__call__(inputs [batch, ...]) -> x`` broadcast to ``[batch, dim]``."""

  dim: int = 2

  @nn.compact
  def __call__(self, inputs: jax.Array) -> jax.Array:
    x = self.param("x", nn.initializers.zeros, (self.dim,))
    return jnp.broadcast_to(x, (inputs.shape[0], self.dim))
