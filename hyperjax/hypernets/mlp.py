"""MLP hypernetwork with one linear head per target leaf (PHN style).

Reference:
  Navon, Shamsian, Chechik, Fetaya. "Learning the Pareto Front with Hypernetworks",
  ICLR 2021: ray MLP 2->100->100->100 (ReLU between, none after the last), one
  linear head per target tensor; 3,243,410 parameters for the PHN LeNet.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Sequence

import jax
from flax import linen as nn

from hyperjax.hypernets.conditioning import Conditioner
from hyperjax.hypernets.trunk import MLPTrunk
from hyperjax.hypernets.protocol import ShardingRules
from hyperjax.spec import WeightSpec


class MLPHypernet(nn.Module):
  """``cond -> conditioner -> MLP trunk -> one Dense head per target leaf``.

  ``apply(params, cond)`` returns a weight pytree with exactly ``spec``'s structure,
  shapes and dtypes (``scale`` leaves are generated around 1, see
  :meth:`WeightSpec.assemble`). Head ``i`` (``heads_i``) generates
  ``spec.leaves[i]``.

  Attributes:
    spec: the target's weight spec.
    hidden: trunk widths; ``activation`` between them, none after the last. Empty:
      the heads read the conditioner's output directly (:class:`LinearHypernet`).
    conditioner: maps the condition to the trunk's input (default: the vector as is).
    activation: trunk non-linearity.
    head_stddevs: per-leaf standard deviations of the head kernels (heads then get
      zero biases); None keeps Flax's defaults. Set by
      :func:`hyperjax.hypernets.init_hypernet` for hyperfan initialisation.
  """

  # Output heads [h, P_i] split along 'model'.
  sharding_rules: ClassVar[ShardingRules] = ((r"heads_\d+/kernel$", (None, "model")),
                                             (r"heads_\d+/bias$", ("model",)))

  spec: WeightSpec
  hidden: Sequence[int] = (100, 100, 100)
  conditioner: Conditioner | None = None
  activation: Callable[[jax.Array], jax.Array] = nn.relu
  head_stddevs: tuple[float, ...] | None = None

  def setup(self):
    self.condition = self.conditioner or Conditioner()
    self.trunk = MLPTrunk(self.hidden, self.activation)
    if self.head_stddevs is not None and len(self.head_stddevs) != self.spec.num_leaves:
      raise ValueError(f"head_stddevs has {len(self.head_stddevs)} entries for "
                       f"{self.spec.num_leaves} target leaves.")
    heads = []
    for i, leaf in enumerate(self.spec.leaves):
      if self.head_stddevs is None:
        heads.append(nn.Dense(leaf.size))
      else:
        heads.append(nn.Dense(leaf.size, kernel_init=nn.initializers.normal(self.head_stddevs[i]),
                              bias_init=nn.initializers.zeros))
    self.heads = heads

  def features(self, cond: Any) -> jax.Array:
    """The trunk's output ``c`` ``[hidden[-1]]`` (the conditioner's output when
    ``hidden`` is empty), the input of every head."""
    return self.trunk(self.condition(cond))

  def __call__(self, cond: Any) -> Any:
    c = self.features(cond)
    return self.spec.assemble([head(c) for head in self.heads])

  def hyperfan_attributes(self, variances: Sequence[float], squared_norm: float) -> dict:
    """Attributes that give generated leaf ``i`` variance ``variances[i]``.

    With ``W_i = H_i c``, ``Var(W_i) = Var(H_i) E[||c||^2]`` (Chang et al. 2020:
    ``d_k Var(H_i) E[c^2]``); ``squared_norm`` is ``E[||c||^2]``.
    """
    return {"head_stddevs": tuple(float((v / squared_norm) ** 0.5) for v in variances)}


class LinearHypernet(MLPHypernet):
  """The linear baseline of Cubelier 2022: one linear map from the (normalised) task
  embedding to every target leaf, ``W_i = H_i e + b_i``; an :class:`MLPHypernet`
  without hidden layers. Parameters: ``(d + 1) P`` for a ``d``-dim embedding.
  """

  hidden: Sequence[int] = ()
