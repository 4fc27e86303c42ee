"""A sparse linear layer with static connectivity and trainable values (Flax Linen)."""

from __future__ import annotations

from typing import Callable

import jax
import numpy as np
from flax import linen as nn

from hyperjax.sparse import connectivity
from hyperjax.sparse.ops import BACKENDS, sparse_matmul


class SparseLinear(nn.Module):
  """``y = W x (+ b)`` where each output unit reads exactly ``k`` inputs.

  The structure (``indices [features, k]``) is built from ``structure_seed`` and the
  input width when the module is first called; only ``values [features, k]`` (and the
  bias) are parameters. Values are initialised ``N(0, value_scale^2 / k)`` by default, so
  that a unit's output variance matches its input variance (LeCun fan-in with fan-in k).

  Attributes:
    features: output units.
    k: incoming edges per output unit.
    distribution: input-index distribution (see :mod:`hyperjax.sparse.connectivity`).
    structure_seed: seed of the connectivity (static).
    backend: one of :data:`hyperjax.sparse.ops.BACKENDS`.
    use_bias: add a bias.
    value_scale: initial standard deviation times ``sqrt(k)``.
    value_init: overrides the values' initialiser.
  """

  features: int
  k: int = 3
  distribution: str = "uniform"
  structure_seed: int = 0
  backend: str = "segment"
  use_bias: bool = False
  value_scale: float = 1.0
  value_init: Callable | None = None

  def indices(self, in_dim: int) -> np.ndarray:
    return connectivity.make_indices(in_dim, self.features, self.k, self.distribution,
                                     self.structure_seed)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    if self.backend not in BACKENDS:
      raise ValueError(f"Unknown sparse backend {self.backend!r}; choose one of "
                       f"{', '.join(BACKENDS)}.")
    in_dim = x.shape[-1]
    init = self.value_init or nn.initializers.normal(self.value_scale / np.sqrt(self.k))
    values = self.param("values", init, (self.features, self.k))
    y = sparse_matmul(x, values.astype(x.dtype), self.indices(in_dim), in_dim, self.backend)
    if self.use_bias:
      y = y + self.param("bias", nn.initializers.zeros, (self.features,)).astype(x.dtype)
    return y


__all__ = ["SparseLinear"]
