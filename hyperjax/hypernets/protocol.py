"""The contract every hypernetwork family implements (and the sharding layer reads).

A family is a Flax module class; what the rest of hyperjax relies on is written down
here as a :class:`typing.Protocol`, so that a new family is one class plus one
registry entry (:func:`hyperjax.hypernets.factory.register_family`) and is initialised,
trained and sharded correctly without editing anything else.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, Sequence, runtime_checkable

import jax

from hyperjax.spec import WeightSpec

# Regex on a parameter's '/'-joined path -> partition spec of its trailing dimensions.
ShardingRules = tuple[tuple[str, tuple[str | None, ...]], ...]


@runtime_checkable
class Hypernetwork(Protocol):
  """What a hypernetwork family provides.

  Attributes:
    spec: the target's weight spec; ``apply`` returns a pytree of exactly this structure,
      shapes and dtypes.
    conditioner: how a condition (ray, task index, noise) is embedded, or None.
    sharding_rules: regex -> partition spec of this family's large parameters (e.g. its
      output heads along ``'model'``); every other leaf is replicated. Read by
      :class:`hyperjax.training.sharding.Parallelism`.
  """

  spec: WeightSpec
  conditioner: Any
  sharding_rules: ClassVar[ShardingRules]

  def init(self, rng: jax.Array, cond: Any) -> Any:
    """Variables ``{'params': ...}`` for one condition's shape."""

  def apply(self, variables: Any, cond: Any, **kwargs: Any) -> Any:
    """The weights of the target for one condition (many: ``jax.vmap``)."""


class HyperfanFamily(Hypernetwork, Protocol):
  """A family with hyperfan initialisation (Chang et al., ICLR 2020): ``features(cond)``
  is the input of its last layer, and ``hyperfan_attributes`` returns the module
  attributes that give each generated leaf its target variance."""

  def features(self, cond: Any) -> jax.Array:
    """The last layer's input ``c`` for one condition."""

  def hyperfan_attributes(self, variances: Sequence[float], squared_norm: Any) -> dict:
    """Attributes to ``clone`` the module with, from the leaves' variances and E[||c||^2]."""


def sharding_rules_of(hnet: Any) -> ShardingRules:
  """The family's declared rules (none for a module that declares none); ``hnet`` may be a
  module or its class."""
  cls = hnet if isinstance(hnet, type) else type(hnet)
  return tuple(getattr(cls, "sharding_rules", ()))
