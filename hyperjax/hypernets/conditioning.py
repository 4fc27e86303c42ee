"""Conditioning inputs: what a hypernetwork's output depends on.

A condition is one of
  * a float vector ``[cond_dim]`` (a preference ray, a noise sample),
  * an integer index ``[]`` (a task, a layer) looked up in a learned embedding table,
  * a dict ``{'vector': [cond_dim], 'index': []}`` for both at once.
Many conditions at once are ``jax.vmap`` over the hypernetwork.

References:
  Navon et al., ICLR 2021 (PHN's chunked hypernetwork embeds the ray as
  ``sum_i r_i E_i``, a linear map without bias).
  von Oswald et al., ICLR 2020 (learned task embeddings).
  Cubelier 2022 (task embeddings followed by LayerNorm without affine parameters).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn


def split_condition(cond: Any) -> tuple[jax.Array | None, jax.Array | None]:
  """Returns ``(vector, index)`` from any of the accepted condition forms."""
  if isinstance(cond, dict):
    unknown = set(cond) - {"vector", "index"}
    if unknown:
      raise ValueError(f"Condition dict keys must be 'vector' and/or 'index', got {sorted(cond)}.")
    return cond.get("vector"), cond.get("index")
  cond = jnp.asarray(cond)
  if jnp.issubdtype(cond.dtype, jnp.integer):
    return None, cond
  return cond, None


class Conditioner(nn.Module):
  """Maps a condition to the vector a hypernetwork's trunk reads.

  Attributes:
    num_embeddings: size of the learned embedding table for index conditions
      (None: index conditions are refused).
    embedding_dim: width of each learned embedding.
    vector_projection: if set, vector conditions go through a linear map without
      bias to this many dims (``sum_i r_i E_i``); otherwise they are used as they are.
    normalize: LayerNorm without affine parameters on the result.
  """

  num_embeddings: int | None = None
  embedding_dim: int = 32
  vector_projection: int | None = None
  normalize: bool = False

  @nn.compact
  def __call__(self, cond: Any) -> jax.Array:
    vector, index = split_condition(cond)
    parts = []
    if vector is not None:
      if vector.ndim != 1:
        raise ValueError(f"A vector condition must be 1-D, got shape {vector.shape}; use "
                         "jax.vmap for many conditions.")
      vector = vector.astype(jnp.float32)
      if self.vector_projection:
        vector = nn.Dense(self.vector_projection, use_bias=False, name="vector_embedding")(vector)
      parts.append(vector)
    if index is not None:
      if self.num_embeddings is None:
        raise ValueError("Got an index condition but the conditioner has no embedding table; "
                         "set num_embeddings (e.g. the number of tasks).")
      if index.ndim != 0:
        raise ValueError(f"An index condition must be a scalar, got shape {index.shape}; use "
                         "jax.vmap for many conditions.")
      parts.append(nn.Embed(self.num_embeddings, self.embedding_dim, name="embedding")(index))
    h = jnp.concatenate(parts, axis=-1)
    if self.normalize:
      h = nn.LayerNorm(use_scale=False, use_bias=False)(h)
    return h
