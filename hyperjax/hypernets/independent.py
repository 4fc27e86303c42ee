"""One independent network per task, behind the hypernetwork interface.

The upper baseline of task-conditioned hypernetworks (von Oswald et al. 2020;
Cubelier 2022): no weight sharing at all, ``T x P`` parameters. Exposed as a
"family" so that the multi-task harness trains it with exactly the same data, steps,
optimiser and evaluation as the hypernetworks: ``apply(params, task)`` returns task
``task``'s own weights.
"""

from __future__ import annotations

from typing import Any

from flax import linen as nn

from hyperjax.hypernets.conditioning import Conditioner, split_condition
from hyperjax.hypernets.init import plain_leaf_init
from hyperjax.spec import WeightSpec


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
    self.copies = [self.param("_".join(leaf.path), plain_leaf_init(leaf), (count, *leaf.shape))
                   for leaf in self.spec.leaves]

  def __call__(self, cond: Any) -> Any:
    vector, index = split_condition(cond)
    if vector is not None or index is None:
      raise ValueError("IndependentNetworks takes a task index as its condition, got a "
                       "vector; use a hypernetwork family for vector conditions.")
    return self.spec.treedef.unflatten([c[index] for c in self.copies])
