"""Sparse matrix products behind one backend switch.

A sparse layer computes ``y[..., o] = sum_j values[o, j] * x[..., indices[o, j]]`` with
static ``indices [out, k]`` (NumPy) and trainable ``values [out, k]``. Backends, equal in
value and gradient (tested, also under ``jax.vmap``):

  * ``'ell'``: fixed fan-in gather: ``x[..., indices]`` then a multiply-reduce over ``k``
    (ELLPACK layout; the gradient w.r.t. ``x`` is one scatter-add);
  * ``'segment'``: gather the ``out * k`` edge inputs, multiply, ``jax.ops.segment_sum``
    into the output units (COO order, sorted by output);
  * ``'bcoo'``: ``jax.experimental.sparse.BCOO`` matrix ``[out, in]`` times ``x``, the
    reference implementation;
  * ``'dense'``: the values scattered into a dense ``[out, in]`` matrix (zero elsewhere),
    then one dense matmul: only for sizes where the dense matrix fits.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import sparse as jsparse

BACKENDS = ("ell", "segment", "bcoo", "dense")


def sparse_matmul(x: jax.Array, values: jax.Array, indices: np.ndarray, in_dim: int,
                  backend: str = "ell") -> jax.Array:
  """``y [..., out] = x [..., in] @ W^T`` for the sparse ``W [out, in]`` given by
  ``(indices, values)`` (see the module docstring).

  Args:
    x: inputs ``[..., in_dim]``.
    values: ``[out, k]`` edge values (traced, trainable).
    indices: ``[out, k]`` input index of each edge (static NumPy ints).
    in_dim: number of inputs (the dense matrix's column count).
    backend: one of :data:`BACKENDS`.
  """
  indices = np.asarray(indices)
  if indices.shape != values.shape:
    raise ValueError(f"indices {indices.shape} and values {values.shape} must have the same shape.")
  if x.shape[-1] != in_dim:
    raise ValueError(f"x has {x.shape[-1]} features, the layer expects {in_dim}.")
  out, k = indices.shape
  if backend == "ell":
    return jnp.sum(x[..., indices] * values, axis=-1)
  if backend == "segment":
    rows = np.repeat(np.arange(out, dtype=np.int32), k)
    edges = x[..., indices.reshape(-1)] * values.reshape(-1)  # [..., out * k]
    moved = jnp.moveaxis(edges, -1, 0)
    summed = jax.ops.segment_sum(moved, rows, num_segments=out, indices_are_sorted=True)
    return jnp.moveaxis(summed, 0, -1)
  if backend == "bcoo":
    coords = np.stack([np.repeat(np.arange(out), k), indices.reshape(-1)], axis=1)
    # The barrier keeps XLA from constant-folding BCOO's index bookkeeping at compile
    # time (minutes for a million edges); the indices stay fixed all the same.
    coords = jax.lax.optimization_barrier(jnp.asarray(coords, jnp.int32))
    matrix = jsparse.BCOO((values.reshape(-1), coords),
                          shape=(out, in_dim), indices_sorted=True, unique_indices=False)
    flat = x.reshape(-1, in_dim)
    return (matrix @ flat.T).T.reshape(*x.shape[:-1], out)
  if backend == "dense":
    return x @ dense_matrix(values, indices, in_dim).T
  raise ValueError(f"Unknown sparse backend {backend!r}; choose one of {', '.join(BACKENDS)}.")


def dense_matrix(values: jax.Array, indices: np.ndarray, in_dim: int) -> jax.Array:
  """The dense ``[out, in]`` matrix of a sparse layer (repeated edges add up)."""
  out, k = indices.shape
  rows = np.repeat(np.arange(out), k)
  return jnp.zeros((out, in_dim), values.dtype).at[rows, indices.reshape(-1)].add(
      values.reshape(-1))
