"""Static connectivity of sparse layers: which inputs each output unit reads.

Every output unit of a sparse layer has exactly ``k`` incoming edges (the thesis's
``connectivity``), so a layer's structure is an index array ``[out, k]`` (ELLPACK
layout) and its trainable values are an array of the same shape. Structures are
NumPy arrays built once from a seed, never traced.

Input-index distributions (Cubelier 2022, section "connectivity"):
  * ``uniform``: each unit draws ``k`` distinct inputs uniformly at random;
  * ``permutation``: the ``out * k`` edge slots are filled from concatenated random
    permutations of the inputs, so every input feeds (nearly) the same number of units;
  * ``normal``: banded / local: unit ``o`` reads inputs near ``o * in / out`` with
    ``N(., sigma)`` offsets (``sigma = in / 4`` by default; wrapped around);
  * ``mixed``: half of each unit's edges ``normal``, the rest ``uniform``.

Connectivity schedules over a stack of layers (the output layer last):
  * ``constant``: ``k`` edges in every layer;
  * ``linear``: 1 edge at the output layer, one more per layer towards the input;
  * ``exponential``: 1 edge at the output layer, x1.5 per layer towards the input.

Reference: Cubelier, "Sparse hypernetworks", MSc thesis, University of Liege, 2022.
"""

from __future__ import annotations

import functools
import math

import numpy as np

DISTRIBUTIONS = ("uniform", "permutation", "normal", "mixed")
SCHEDULES = ("constant", "linear", "exponential")


def layer_widths(latent_dim: int, output_dim: int, base: float = 2.0) -> list[int]:
  """Widths from the latent to the output, growing by ``base`` per layer.

  ``[d, d*base, d*base^2, ..., P]``: about ``log_base(P / d)`` layers; the last hidden
  width is the largest power below ``P`` and the output layer has exactly ``P`` units.
  """
  if latent_dim < 1 or output_dim < 1:
    raise ValueError(f"latent_dim and output_dim must be positive, got {latent_dim}, {output_dim}.")
  if base <= 1:
    raise ValueError(f"base must be > 1 (the widening factor per layer), got {base}.")
  widths = [latent_dim]
  while widths[-1] * base < output_dim:
    widths.append(int(round(widths[-1] * base)))
  widths.append(output_dim)
  return widths


def schedule(name: str, num_layers: int, k: int = 3) -> list[int]:
  """Edges per output unit for each of ``num_layers`` layers (input layer first)."""
  if name not in SCHEDULES:
    raise ValueError(f"Unknown connectivity schedule {name!r}; choose one of {', '.join(SCHEDULES)}.")
  if name == "constant":
    if k < 1:
      raise ValueError(f"connectivity must be at least 1, got {k}.")
    return [k] * num_layers
  from_output = range(num_layers)  # 0 at the output layer
  if name == "linear":
    counts = [1 + i for i in from_output]
  else:
    counts = [max(1, int(round(1.5 ** i))) for i in from_output]
  return counts[::-1]


@functools.lru_cache(maxsize=64)
def make_indices(in_dim: int, out_dim: int, k: int, distribution: str = "uniform",
                 seed: int = 0, sigma: float | None = None) -> np.ndarray:
  """Input indices ``[out_dim, k]`` (int32), distinct within each row when ``k <= in_dim``.

  Pure in its arguments and cached (read-only result): every trace of a sparse layer
  (init, each jitted function) reuses the structure instead of rebuilding it (seconds
  for the largest layers of a 10M-weight target).
  """
  if distribution not in DISTRIBUTIONS:
    raise ValueError(f"Unknown index distribution {distribution!r}; choose one of "
                     f"{', '.join(DISTRIBUTIONS)}.")
  if k < 1:
    raise ValueError(f"connectivity must be at least 1, got {k}.")
  if k > in_dim:
    raise ValueError(f"connectivity {k} exceeds the layer's {in_dim} inputs.")
  rng = np.random.default_rng(seed)
  if distribution == "uniform":
    # argpartition of random keys = k distinct inputs per row, without an in_dim loop.
    idx = _distinct_uniform(rng, in_dim, out_dim, k)
  elif distribution == "permutation":
    reps = math.ceil(out_dim * k / in_dim)
    slots = np.concatenate([rng.permutation(in_dim) for _ in range(reps)])[: out_dim * k]
    idx = _dedupe_rows(slots.reshape(out_dim, k), in_dim, rng)
  elif distribution == "normal":
    idx = _banded(rng, in_dim, out_dim, k, sigma)
  else:
    k_normal = k // 2
    parts = [_distinct_uniform(rng, in_dim, out_dim, k - k_normal)]
    if k_normal:
      parts.insert(0, _banded(rng, in_dim, out_dim, k_normal, sigma))
    idx = _dedupe_rows(np.concatenate(parts, axis=1), in_dim, rng)
  idx = np.ascontiguousarray(idx, dtype=np.int32)
  idx.flags.writeable = False
  return idx


def _distinct_uniform(rng, in_dim: int, out_dim: int, k: int) -> np.ndarray:
  if k * 4 < in_dim:  # sparse: sample with replacement, then repair the rare duplicates
    return _dedupe_rows(rng.integers(0, in_dim, (out_dim, k)), in_dim, rng)
  keys = rng.random((out_dim, in_dim))
  return np.argpartition(keys, k - 1, axis=1)[:, :k]


def _banded(rng, in_dim: int, out_dim: int, k: int, sigma: float | None) -> np.ndarray:
  sigma = in_dim / 4 if sigma is None else sigma
  centers = (np.arange(out_dim) + 0.5) * in_dim / out_dim
  raw = np.rint(centers[:, None] + rng.normal(0.0, sigma, (out_dim, k))).astype(np.int64)
  return _dedupe_rows(np.mod(raw, in_dim), in_dim, rng)


def _dedupe_rows(idx: np.ndarray, in_dim: int, rng) -> np.ndarray:
  """Replaces repeated inputs within a row by unused ones (rows stay length ``k``)."""
  idx = np.array(idx, dtype=np.int64)
  sorted_idx = np.sort(idx, axis=1)
  bad_rows = np.nonzero(np.any(sorted_idx[:, 1:] == sorted_idx[:, :-1], axis=1))[0]
  for r in bad_rows:
    row = idx[r]
    _, first = np.unique(row, return_index=True)
    repeated = np.setdiff1d(np.arange(len(row)), first)
    free = np.setdiff1d(np.arange(in_dim), row)
    row[repeated] = rng.choice(free, len(repeated), replace=False)
  return idx
