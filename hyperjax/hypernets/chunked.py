"""Chunked hypernetwork: one shared generator applied to many learned chunk embeddings.

Reference:
  Navon et al., ICLR 2021 (PHN's chunked hypernetwork for ResNet-18: preference
  embedding ``sum_i r_i E_i`` (32 dims) + chunk embedding (64 dims) -> MLP 96->100->100->100
  -> ``num_ws`` matrices of ``chunk_size x 100``; presets 105/230/577/1150 chunks with
  11/5/2/1 matrices). von Oswald et al., ICLR 2020 (chunked hypernetworks for CL).
  Lin, Yang, Zhang, Kwong, arXiv 2010.06313 (Controllable Pareto MTL: preference + chunk
  id -> shared MLP -> a projection tensor of each chunk's own: ``share_projection=False``).
"""

from __future__ import annotations

import math
from typing import Any, Callable, ClassVar, Sequence

import jax
import jax.numpy as jnp
from flax import linen as nn

from hyperjax.hypernets.conditioning import Conditioner
from hyperjax.hypernets.init import output_multipliers
from hyperjax.hypernets.trunk import MLPTrunk
from hyperjax.hypernets.protocol import ShardingRules
from hyperjax.spec import WeightSpec

# PHN ResNet-18 presets: name -> (num_chunks, num_ws), with chunk_size 10,000.
PHN_RESNET18_PRESETS = {"11M": (105, 11), "5M": (230, 5), "2M": (577, 2), "1M": (1150, 1)}


def default_num_chunks(size: int, chunk_size: int, num_ws: int) -> int:
  """Fewest chunks whose ``num_ws * chunk_size`` outputs each cover ``size`` weights."""
  return math.ceil(size / (chunk_size * num_ws))


class ChunkedHypernet(nn.Module):
  """Generates the flat target vector chunk by chunk, then slices it per leaf.

  For chunk ``j``: ``c_j = MLP([e(cond); z_j])`` (``z_j`` a learned chunk embedding),
  and its ``num_ws * chunk_size`` outputs are ``[W_1 c_j; ...; W_num_ws c_j]``. All
  chunks go through the trunk as one batched computation (the program ``jax.vmap``
  over chunks would produce), never a Python loop. With ``share_projection=False`` each
  chunk has output matrices of its own, ``[W^j_1 c_j; ...]`` (Controllable Pareto MTL's
  generator), at ``num_chunks`` times the parameters of the output matrices. The concatenated output is cut to
  the target's size (the padding of the last chunk is dropped) and split per leaf;
  leaf ``i`` is ``base_i + leaf_scales[i] * raw_i``.

  Attributes:
    spec: the target's weight spec.
    chunk_size: rows of each output matrix.
    num_ws: output matrices per chunk.
    share_projection: one set of output matrices for all chunks (PHN, von Oswald et
      al.) or one per chunk (Controllable Pareto MTL).
    num_chunks: chunks (default: the fewest that cover the target).
    chunk_embedding_dim: width of the learned chunk embeddings.
    hidden: trunk widths (``activation`` between, none after the last).
    conditioner: maps the condition to a vector (default: PHN's linear ray
      embedding to 32 dims).
    activation: trunk non-linearity.
    w_stddev: init std of the output matrices (PHN: N(0, 0.1)); hyperfan init sets
      it to ``1 / sqrt(d_k E[c^2])`` so that every raw output has unit variance.
    chunk_embedding_stddev: init std of the chunk embeddings.
    leaf_scales: fixed per-leaf output multipliers (hyperfan init sets them to the
      target standard deviation of each leaf); None means 1.
    center_features: subtract the mean over chunks from the trunk outputs ``c_j``. With
      shared output matrices, a gradient step on them moves chunk ``j`` by
      ``sum_i (c_j . c_i) g_i`` (``g_i`` chunk ``i``'s gradient): after a ReLU trunk the
      ``c_j`` are positively correlated, so every chunk mostly receives the sum of all the
      others' gradients. Centred features decorrelate the chunks (``sum_i c_i = 0``).
  """

  # Chunk output matrices [num_ws, h, chunk_size] split along 'model'.
  sharding_rules: ClassVar[ShardingRules] = ((r"(^|/)ws$", (None, None, "model")),
                                             (r"(^|/)chunk_ws$", (None, None, None, "model")))

  spec: WeightSpec
  chunk_size: int = 10_000
  num_ws: int = 11
  share_projection: bool = True
  num_chunks: int | None = None
  chunk_embedding_dim: int = 64
  hidden: Sequence[int] = (100, 100, 100)
  conditioner: Conditioner | None = None
  activation: Callable[[jax.Array], jax.Array] = nn.relu
  w_stddev: float = 0.1
  chunk_embedding_stddev: float = 0.1
  leaf_scales: tuple[float, ...] | None = None
  center_features: bool = False

  @property
  def total_chunks(self) -> int:
    chunks = self.num_chunks or default_num_chunks(self.spec.size, self.chunk_size, self.num_ws)
    if chunks * self.num_ws * self.chunk_size < self.spec.size:
      raise ValueError(
          f"{chunks} chunks x {self.num_ws} matrices x {self.chunk_size} rows = "
          f"{chunks * self.num_ws * self.chunk_size:,} outputs cannot cover the target's "
          f"{self.spec.size:,} parameters; raise num_chunks, num_ws or chunk_size.")
    return chunks

  def setup(self):
    self.condition = self.conditioner or Conditioner(vector_projection=32)
    self.chunk_embeddings = self.param(
        "chunk_embeddings", nn.initializers.normal(self.chunk_embedding_stddev),
        (self.total_chunks, self.chunk_embedding_dim))
    self.trunk = MLPTrunk(self.hidden, self.activation)
    shape = (self.num_ws, self.hidden[-1], self.chunk_size)
    if self.share_projection:
      self.ws = self.param("ws", nn.initializers.normal(self.w_stddev), shape)
    else:
      self.ws = self.param("chunk_ws", nn.initializers.normal(self.w_stddev),
                           (self.total_chunks,) + shape)

  def features(self, cond: Any) -> jax.Array:
    """Trunk outputs for all chunks, ``[num_chunks, hidden[-1]]``."""
    e = self.condition(cond)
    e = jnp.broadcast_to(e, (self.chunk_embeddings.shape[0], e.shape[-1]))
    c = self.trunk(jnp.concatenate([e, self.chunk_embeddings], axis=-1))
    return c - jnp.mean(c, axis=0, keepdims=True) if self.center_features else c

  def __call__(self, cond: Any) -> Any:
    c = self.features(cond)
    equation = "ch,whs->cws" if self.share_projection else "ch,cwhs->cws"
    out = jnp.einsum(equation, c, self.ws).reshape(-1)[: self.spec.size]
    raw = self.spec.split_flat(out)
    return self.spec.assemble(raw, self.leaf_scales)

  def hyperfan_attributes(self, variances: Sequence[float], squared_norm: float) -> dict:
    """Unit-variance raw outputs, rescaled per leaf to ``variances[i]``.

    The output matrices are shared by all chunks, so one matrix row generates weights
    of different leaves; the per-leaf variance is therefore set by a fixed output
    multiplier (Chang et al. 2020's hyperfan variances, applied after the matrices).
    """
    return {"w_stddev": float((1.0 / squared_norm) ** 0.5),
            "leaf_scales": output_multipliers(variances)}
