"""One independent network per task, behind the hypernetwork interface.

The upper baseline of task-conditioned hypernetworks (von Oswald et al. 2020;
Cubelier 2022): no weight sharing at all, ``T x P`` parameters. Exposed as a
"family" so that the multi-task harness trains it with exactly the same data, steps,
optimiser and evaluation as the hypernetworks: ``apply(params, task)`` returns task
``task``'s own weights.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from hyperjax.hypernets.conditioning import Conditioner, split_condition
from hyperjax.spec import WeightSpec


def _leaf_init(stddev: float):
  def init(key, shape, dtype=jnp.float32):
    if stddev == 0.0:
      return jnp.zeros(shape, dtype)
    return stddev * jax.random.normal(key, shape, dtype)
  return init


class IndependentNetworks(nn.Module):
  """``num_networks`` separate copies of the target's weights, indexed by task id.

  Kernels (and embeddings) start LeCun-normal (``Var = 1 / fan_in``, Flax's default
  for Dense and Conv), biases and normalisation shifts at 0, normalisation scales at 1.

  Attributes:
    spec: the target's weight spec.
    conditioner: only its ``num_embeddings`` (the number of tasks) is used.
    num_networks: number of networks (default: ``conditioner.num_embeddings``).
  """

  spec: WeightSpec
  conditioner: Conditioner | None = None
  num_networks: int | None = None

  def _count(self) -> int:
    count = self.num_networks or (self.conditioner.num_embeddings if self.conditioner else None)
    if not count:
      raise ValueError("IndependentNetworks needs the number of tasks: pass num_networks or a "
                       "conditioner with num_embeddings.")
    return count

  def setup(self):
    count = self._count()
    self.raw = [
        self.param("_".join(leaf.path),
                   _leaf_init(float(np.sqrt(1.0 / leaf.fan_in))
                              if leaf.kind in ("kernel", "embedding", "other") else 0.0),
                   (count, leaf.size))
        for leaf in self.spec.leaves]

  def __call__(self, cond: Any) -> Any:
    vector, index = split_condition(cond)
    if vector is not None or index is None:
      raise ValueError("IndependentNetworks takes a task index as its condition, got a "
                       "vector; use a hypernetwork family for vector conditions.")
    return self.spec.assemble([r[index] for r in self.raw])
