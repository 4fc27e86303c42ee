"""Front quality: exact hypervolume, uniformity, distances to a known front, ray angles.

References:
  Zitzler & Thiele 1999 (hypervolume); While, Hingston, Barone, Huband 2006
  ("hypervolume by slicing objectives", the exact method used for 3+ objectives).
  Mahapatra & Rajan 2020 / Navon et al. 2021 (non-uniformity KL(lhat || 1/m)).
  Van Veldhuizen & Lamont 1998 (generational distance); Coello & Reyes Sierra 2004
  (inverted generational distance).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def _hv2d(points: np.ndarray, ref: np.ndarray) -> float:
  order = np.argsort(points[:, 0], kind="stable")
  volume, best_y = 0.0, ref[1]
  for x, y in points[order]:
    if y < best_y:
      volume += (ref[0] - x) * (best_y - y)
      best_y = y
  return float(volume)


def _hv(points: np.ndarray, ref: np.ndarray) -> float:
  if len(points) == 0:
    return 0.0
  dims = points.shape[1]
  if dims == 1:
    return float(ref[0] - points[:, 0].min())
  if dims == 2:
    return _hv2d(points, ref)
  # Slice along the last objective: between consecutive levels, the dominated region is
  # the (d-1)-dimensional hypervolume of the points at or below the lower level.
  levels = np.unique(points[:, -1])
  bounds = np.append(levels[1:], ref[-1])
  volume = 0.0
  for level, upper in zip(levels, bounds):
    below = points[points[:, -1] <= level][:, :-1]
    volume += (upper - level) * _hv(below, ref[:-1])
  return float(volume)


def hypervolume(points, reference_point: Sequence[float]) -> float:
  """Exact hypervolume dominated by ``points [n, m]`` (minimisation) below the reference.

  Points that do not strictly dominate the reference point in every objective add
  nothing; dominated and duplicate points are handled exactly.
  """
  points = np.asarray(points, np.float64)
  ref = np.asarray(reference_point, np.float64)
  if points.ndim != 2 or points.shape[1] != ref.shape[0]:
    raise ValueError(f"points {points.shape} and reference point {ref.shape} disagree.")
  if not np.all(np.isfinite(points)):
    points = points[np.all(np.isfinite(points), axis=1)]
  inside = points[np.all(points < ref, axis=1)]
  return _hv(inside, ref)


def non_uniformity(losses, rays) -> np.ndarray:
  """Per ray ``KL(lhat || uniform)`` with ``lhat = r*l / sum(r*l)`` (0 = exactly on the ray)."""
  losses, rays = np.asarray(losses, np.float64), np.asarray(rays, np.float64)
  rl = np.maximum(rays * losses, 1e-300)
  lhat = rl / rl.sum(-1, keepdims=True)
  return np.sum(lhat * np.log(lhat * losses.shape[-1]), axis=-1)


def uniformity(losses, rays) -> float:
  """Mean non-uniformity over rays (lower is better)."""
  return float(np.mean(non_uniformity(losses, rays)))


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """``[len(a)]``: the Euclidean distance of each row of ``a`` to its nearest row of ``b``."""
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  best = np.full(len(a), np.inf)
  for start in range(0, len(b), 4096):  # bounded memory for dense true fronts
    chunk = b[start:start + 4096]
    d = np.sum((a[:, None, :] - chunk[None]) ** 2, axis=-1)
    best = np.minimum(best, d.min(axis=1))
  return np.sqrt(best)


def generational_distance(points, true_front) -> float:
  """Mean distance of each learned point to the nearest point of the true front."""
  return float(np.mean(_distances(points, true_front)))


def inverted_generational_distance(points, true_front) -> float:
  """Mean distance of each true-front point to the nearest learned point (IGD): small
  only when the learned front is both close to and spread along the true one."""
  return float(np.mean(_distances(true_front, points)))


def ray_angles(losses, rays) -> np.ndarray:
  """Per ray, the angle in degrees between the loss vector and the direction ``1/r`` on
  which ``r_i l_i`` is equal for every task (0: exactly on the ray, EPO's target)."""
  losses, rays = np.asarray(losses, np.float64), np.asarray(rays, np.float64)
  target = 1.0 / np.maximum(rays, 1e-12)
  cos = np.sum(losses * target, -1) / (np.linalg.norm(losses, axis=-1)
                                       * np.linalg.norm(target, axis=-1))
  return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
