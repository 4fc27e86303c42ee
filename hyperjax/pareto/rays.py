"""Preference rays: sampling for training, fixed rays for evaluation, validation.

References:
  Navon et al., ICLR 2021 (PHN: one ray per step from Dirichlet(0.2, 0.2); 25 test rays
  at angles evenly spaced over [0.1, pi/2 - 0.1], (cos t, sin t), L1-normalised).
  Das & Dennis 1998 (the simplex lattice used for more than two objectives).
"""

from __future__ import annotations

import itertools
import math
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np


class RayError(ValueError):
  """Rays that are not valid preferences for the configured objectives."""


def sample_rays(rng: jax.Array, num_rays: int, alpha: float | Sequence[float], num_objectives: int
                ) -> jax.Array:
  """``[num_rays, num_objectives]`` rays from a Dirichlet(alpha) distribution (jit-safe)."""
  alpha = jnp.broadcast_to(jnp.asarray(alpha, jnp.float32), (num_objectives,))
  return jax.random.dirichlet(rng, alpha, (num_rays,))


def evaluation_rays(num_rays: int = 25, num_objectives: int = 2,
                    angle_range: tuple[float, float] = (0.1, math.pi / 2 - 0.1),
                    divisions: int | None = None) -> np.ndarray:
  """The fixed evaluation rays ``[n, num_objectives]`` (rows sum to 1).

  Two objectives: ``num_rays`` angles evenly spaced over ``angle_range`` (endpoints
  included), ``(cos t, sin t)`` L1-normalised. More objectives: the Das-Dennis simplex
  lattice with ``divisions`` steps per axis (all points ``k / divisions`` with
  ``sum k = divisions``), keeping only the points with every entry > 0 when
  ``divisions`` allows it; by default the fewest divisions that give at least
  ``num_rays`` such points (``C(divisions - 1, m - 1)`` of them).
  """
  if num_objectives == 2:
    if num_rays < 1:
      raise RayError(f"num_eval_rays must be at least 1, got {num_rays}.")
    angles = np.linspace(angle_range[0], angle_range[1], num_rays)
    rays = np.stack([np.cos(angles), np.sin(angles)], 1)
    return rays / rays.sum(1, keepdims=True)
  if num_objectives < 2:
    raise RayError(f"Pareto learning needs at least 2 objectives, got {num_objectives}.")
  if divisions is None:
    divisions = num_objectives
    while math.comb(divisions - 1, num_objectives - 1) < max(num_rays, 1):
      divisions += 1
  rays = simplex_lattice(divisions, num_objectives)
  interior = rays[(rays > 0).all(1)]
  return interior if len(interior) else rays


def simplex_lattice(divisions: int, num_objectives: int) -> np.ndarray:
  """The Das-Dennis lattice ``[n, m]``: every point ``k / divisions`` with ``sum k = divisions``."""
  points = [k for k in itertools.product(range(divisions + 1), repeat=num_objectives)
            if sum(k) == divisions]
  return np.asarray(points, np.float64) / divisions


def validate_rays(rays, num_objectives: int, atol: float = 1e-5) -> np.ndarray:
  """Checks user rays: shape ``[n, m]`` (or ``[m]``), finite, non-negative, summing to 1.

  Returns:
    The rays as a float32 array ``[n, m]``.

  Raises:
    RayError: with what is wrong and how to fix it.
  """
  rays = np.asarray(rays, dtype=np.float64)
  if rays.ndim == 1:
    rays = rays[None]
  if rays.ndim != 2 or rays.shape[1] != num_objectives:
    raise RayError(f"Rays must have shape [n, {num_objectives}] for {num_objectives} objectives, "
                   f"got {rays.shape}.")
  if not np.all(np.isfinite(rays)):
    raise RayError("Rays must be finite (found NaN or inf).")
  if np.any(rays < 0):
    raise RayError(f"Rays must be non-negative; row(s) {np.flatnonzero((rays < 0).any(1)).tolist()} "
                   "have negative entries.")
  sums = rays.sum(1)
  bad = np.flatnonzero(np.abs(sums - 1) > atol)
  if len(bad):
    raise RayError(f"Rays must lie on the simplex (sum to 1); row {bad[0]} sums to {sums[bad[0]]:.6g}. "
                   "Divide each ray by its sum.")
  return rays.astype(np.float32)
