"""Sparse hypernetworks: sparse layers growing exponentially from a latent to the target.

From a condition's latent vector of ``d`` dims (default 512: a learned task embedding
with LayerNorm without affine parameters), sparse layers widen by ``base`` per layer
(``d, 2d, 4d, ...``) up to exactly ``P`` outputs, the flattened target; each output unit
of a layer reads a fixed number of inputs (the connectivity schedule), so parameters and
memory grow with ``P * k``, never with a dense ``P x hidden`` matrix. The flat output is
sliced per target leaf and multiplied by a fixed per-leaf scale so that the target
starts well scaled (Glorot: ``sqrt(2 / (fan_in + fan_out))`` per kernel by default;
hyperfan-in/out with :func:`hyperjax.init_hypernet`).

Reference: Cubelier, "Sparse hypernetworks", MSc thesis, University of Liege, 2022.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import jax
import numpy as np
from flax import linen as nn

from hyperjax.hypernets.conditioning import Conditioner
from hyperjax.hypernets.init import ZERO_VARIANCE_MULTIPLIER, output_multipliers
from hyperjax.sparse import BACKENDS, SparseLinear, connectivity
from hyperjax.hypernets.protocol import ShardingRules
from hyperjax.spec import WeightSpec

ACTIVATIONS = ("linear", "relu", "prelu")


def glorot_multipliers(spec: WeightSpec) -> tuple[float, ...]:
  """Per-leaf output scales for unit-variance raw outputs: Glorot std for kernels and
  embeddings, the module's kernel std for its bias, small for norm scales and shifts."""
  kernels = {l.module_path: l for l in spec.leaves if l.kind == "kernel"}
  scales = []
  for leaf in spec.leaves:
    ref = leaf if leaf.kind in ("kernel", "embedding", "other") else kernels.get(leaf.module_path)
    if ref is None or leaf.kind == "scale":
      scales.append(ZERO_VARIANCE_MULTIPLIER)
    else:
      scales.append(float(np.sqrt(2.0 / (ref.fan_in + ref.fan_out))))
  return tuple(scales)


class SparseHypernet(nn.Module):
  """Condition -> latent -> sparse layers widening by ``base`` -> the target's weights.

  Attributes:
    spec: the target's weight spec (``P = spec.size`` outputs).
    latent_dim: width of the latent (the conditioner's output, the first layer's input).
    base: widening factor per layer.
    connectivity: edges per unit for the ``constant`` schedule.
    schedule: ``'constant'``, ``'linear'`` or ``'exponential'`` (edges per layer).
    distribution: input-index distribution (``uniform``, ``permutation``, ``normal``,
      ``mixed``).
    activation: ``'linear'`` (none), ``'relu'`` or ``'prelu'`` between sparse layers.
    use_bias: biases in the sparse layers.
    backend: sparse matmul backend (:data:`hyperjax.sparse.BACKENDS`).
    structure_seed: seed of all connectivity structures (static).
    conditioner: maps the condition to the latent (default: a learned embedding per
      index of ``latent_dim`` dims with LayerNorm without affine parameters; set
      ``num_embeddings`` through :meth:`for_tasks`).
    leaf_scales: fixed per-leaf output multipliers (None: :func:`glorot_multipliers`).
  """

  # Sparse-layer values [nnz, fan_in] split along 'model'.
  sharding_rules: ClassVar[ShardingRules] = ((r"sparse_\d+/values$", ("model", None)),)

  spec: WeightSpec
  latent_dim: int = 512
  base: float = 2.0
  connectivity: int = 3
  schedule: str = "constant"
  distribution: str = "uniform"
  activation: str = "linear"
  use_bias: bool = False
  backend: str = "segment"
  structure_seed: int = 0
  conditioner: Conditioner | None = None
  leaf_scales: tuple[float, ...] | None = None

  @classmethod
  def for_tasks(cls, spec: WeightSpec, num_tasks: int, latent_dim: int = 512,
                **kwargs: Any) -> "SparseHypernet":
    """The thesis's task-conditioned form: task id -> embedding -> LayerNorm -> layers."""
    conditioner = Conditioner(num_embeddings=num_tasks, embedding_dim=latent_dim, normalize=True)
    return cls(spec=spec, latent_dim=latent_dim, conditioner=conditioner, **kwargs)

  def widths(self) -> list[int]:
    """Layer widths from the latent to ``P``."""
    return connectivity.layer_widths(self.latent_dim, self.spec.size, self.base)

  def edges_per_layer(self) -> list[int]:
    """Incoming edges per unit of each sparse layer (capped at the layer's inputs)."""
    widths = self.widths()
    counts = connectivity.schedule(self.schedule, len(widths) - 1, self.connectivity)
    return [min(k, w) for k, w in zip(counts, widths[:-1])]

  def setup(self):
    if self.activation not in ACTIVATIONS:
      raise ValueError(f"Unknown activation {self.activation!r}; choose one of "
                       f"{', '.join(ACTIVATIONS)}.")
    if self.backend not in BACKENDS:
      raise ValueError(f"Unknown sparse backend {self.backend!r}; choose one of "
                       f"{', '.join(BACKENDS)}.")
    self.condition = self.conditioner or Conditioner(embedding_dim=self.latent_dim,
                                                     normalize=True)
    widths, ks = self.widths(), self.edges_per_layer()
    last = len(ks) - 1
    gain = 1.0 if self.activation == "linear" else float(np.sqrt(2.0))
    self.layers = [
        SparseLinear(width, k=k, distribution=self.distribution,
                     structure_seed=self.structure_seed * 1000 + i, backend=self.backend,
                     use_bias=self.use_bias, value_scale=1.0 if i == last else gain,
                     name=f"sparse_{i}")
        for i, (width, k) in enumerate(zip(widths[1:], ks))]
    if self.activation == "prelu":
      self.prelus = [nn.PReLU(name=f"prelu_{i}") for i in range(last)]

  def features(self, cond: Any) -> jax.Array:
    """The input of the last sparse layer (``[widths[-2]]``)."""
    h = self.condition(cond)
    if h.shape[-1] != self.latent_dim:
      raise ValueError(f"The conditioner returns {h.shape[-1]} dims but latent_dim is "
                       f"{self.latent_dim}; set latent_dim to the conditioner's output width.")
    for i, layer in enumerate(self.layers[:-1]):
      h = layer(h)
      if self.activation == "relu":
        h = nn.relu(h)
      elif self.activation == "prelu":
        h = self.prelus[i](h)
    return h

  def raw_outputs(self, cond: Any) -> jax.Array:
    """The flat ``[P]`` output before the per-leaf multipliers."""
    return self.layers[-1](self.features(cond))

  def __call__(self, cond: Any) -> Any:
    out = self.raw_outputs(cond)
    raw = self.spec.split_flat(out)
    return self.spec.assemble(raw, self.leaf_scales or glorot_multipliers(self.spec))

  @property
  def num_params_formula(self) -> int:
    """Parameter count from the structure alone: ``sum(width * k)`` (+ biases, PReLU
    slopes) plus the conditioner's (not included here)."""
    widths, ks = self.widths(), self.edges_per_layer()
    count = sum(w * k for w, k in zip(widths[1:], ks))
    if self.use_bias:
      count += sum(widths[1:])
    if self.activation == "prelu":
      count += len(ks) - 1
    return count

  def hyperfan_attributes(self, variances: Sequence[float], second_moment) -> dict:
    """Per-leaf multipliers for the hyperfan variances, from the measured second moment
    of each leaf's raw outputs (:func:`hyperjax.init_hypernet` measures them per leaf,
    through :meth:`raw_outputs`)."""
    return {"leaf_scales": output_multipliers(variances, second_moment)}
