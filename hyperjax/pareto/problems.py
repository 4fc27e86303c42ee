"""Synthetic multi-objective problems with known Pareto fronts: oracles for every solver.

A :class:`Problem` maps a decision vector ``x [dim]`` to ``m`` losses and knows its true
front, so a learned front can be scored by its distance to the truth (generational
distance, IGD), its hypervolume against the true front's, and -- for solvers that aim
at the ray, like EPO -- the angle between each point and its ray. The hypernetwork
generates ``x`` as the weights of :class:`hyperjax.targets.DecisionVector`;
``configs/pareto_synthetic.py`` runs each problem with each solver.

Problems:
  ``phn_toy``: the two-objective problem of EPO and PHN, ``l1 = 1 - exp(-|x - 1/sqrt(d)|^2)``,
    ``l2 = 1 - exp(-|x + 1/sqrt(d)|^2)`` (Pareto set: the segment between the two centres;
    front ``(1 - exp(-(1 - t)^2), 1 - exp(-(1 + t)^2))``, ``t in [-1, 1]``; concave).
  ``zdt1``: ZDT1 with ``dim`` variables in ``[0, 1]`` (front ``f2 = 1 - sqrt(f1)``; convex).
  ``dtlz2``: DTLZ2 with 3 objectives and ``dim`` variables in ``[0, 1]`` (front: the unit
    sphere in the positive orthant).
Box constraints: every objective is evaluated at ``x`` clipped into the box, plus the
squared distance of ``x`` to the box (an exact penalty: zero inside, it adds nothing to
the front, and outside it gives the clipped coordinates the gradient back into the box).

References:
  Mahapatra & Rajan, ICML 2020, and Navon et al., ICLR 2021 (the toy problem).
  Zitzler, Deb, Thiele. "Comparison of Multiobjective Evolutionary Algorithms", 2000 (ZDT).
  Deb, Thiele, Laumanns, Zitzler. "Scalable Test Problems for Evolutionary Multiobjective
  Optimization", 2005 (DTLZ).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hyperjax.pareto import metrics


def _box(x: jax.Array) -> tuple[jax.Array, jax.Array]:
  """``(x clipped into [0, 1]^dim, its squared distance to the box)``."""
  inside = jnp.clip(x, 0.0, 1.0)
  return inside, jnp.sum((x - inside) ** 2)


class Problem(NamedTuple):
  """A synthetic problem.

  Attributes:
    name: its registry name.
    num_objectives: ``m``.
    dim: the decision vector's length.
    losses: ``x [dim] -> losses [m]`` (pure, jit- and grad-safe; applies the box).
    true_front: ``n -> [about n, m]`` points on the true Pareto front.
    reference_point: the hypervolume reference of its runs.
    true_hypervolume: the true front's hypervolume at ``reference_point``.
  """

  name: str
  num_objectives: int
  dim: int
  losses: Callable[[jax.Array], jax.Array]
  true_front: Callable[[int], np.ndarray]
  reference_point: tuple[float, ...]
  true_hypervolume: float


def phn_toy(dim: int = 20) -> Problem:
  """The EPO / PHN toy problem (concave front; LS finds only its two ends)."""
  c = 1.0 / math.sqrt(dim)

  def losses(x):
    return jnp.stack([1.0 - jnp.exp(-jnp.sum((x - c) ** 2)),
                      1.0 - jnp.exp(-jnp.sum((x + c) ** 2))])

  def front(n):
    t = np.linspace(-1.0, 1.0, n)
    return np.stack([1.0 - np.exp(-(1.0 - t) ** 2), 1.0 - np.exp(-(1.0 + t) ** 2)], 1)

  area = metrics.hypervolume(front(200_001), (1.0, 1.0))  # exact up to O(1/n^2)
  return Problem("phn_toy", 2, dim, losses, front, (1.0, 1.0), area)


def zdt1(dim: int = 30) -> Problem:
  """ZDT1: ``f1 = x1``, ``g = 1 + 9 mean(x_2..n)``, ``f2 = g (1 - sqrt(f1 / g))``."""
  if dim < 2:
    raise ValueError(f"zdt1 needs at least 2 variables, got {dim}.")

  def losses(x):
    x, penalty = _box(x)
    g = 1.0 + 9.0 * jnp.mean(x[1:])
    f1 = x[0]
    return jnp.stack([f1, g * (1.0 - jnp.sqrt(jnp.maximum(f1 / g, 1e-12)))]) + penalty

  def front(n):
    f1 = np.linspace(0.0, 1.0, n)
    return np.stack([f1, 1.0 - np.sqrt(f1)], 1)

  # Below ref (1.1, 1.1): int_0^1 (ref - 1 + sqrt(f1)) df1, plus the strip f1 in [1, ref].
  ref = 1.1
  area = (ref - 1.0) + 2.0 / 3.0 + (ref - 1.0) * ref
  return Problem("zdt1", 2, dim, losses, front, (ref, ref), float(area))


def dtlz2(dim: int = 12, num_objectives: int = 3) -> Problem:
  """DTLZ2: ``g = sum_{i >= m} (x_i - 1/2)^2``, spherical coordinates scaled by ``1 + g``."""
  m = num_objectives
  if dim < m:
    raise ValueError(f"dtlz2 with {m} objectives needs at least {m} variables, got {dim}.")

  def losses(x):
    x, penalty = _box(x)
    g = jnp.sum((x[m - 1:] - 0.5) ** 2)
    angles = x[: m - 1] * (math.pi / 2)
    cos, sin = jnp.cos(angles), jnp.sin(angles)
    out = []
    for i in range(m):  # f_i = (1+g) prod_{j < m-1-i} cos(a_j) * (sin(a_{m-1-i}) if i > 0)
      f = jnp.prod(cos[: m - 1 - i])
      if i > 0:
        f = f * sin[m - 1 - i]
      out.append((1.0 + g) * f)
    return jnp.stack(out) + penalty

  def front(n):  # uniform on the unit sphere's positive orthant (fixed seed)
    points = np.abs(np.random.default_rng(0).normal(size=(n, m)))
    return points / np.linalg.norm(points, axis=1, keepdims=True)

  ref = 1.1
  # The box [0, ref]^m less the part of the unit ball's positive orthant inside it.
  ball = math.pi ** (m / 2) / math.gamma(m / 2 + 1) / 2 ** m
  return Problem("dtlz2", m, dim, losses, front, (ref,) * m, float(ref ** m - ball))


PROBLEMS: dict[str, Callable[..., Problem]] = {"phn_toy": phn_toy, "zdt1": zdt1, "dtlz2": dtlz2}


def make_problem(name: str, **kwargs) -> Problem:
  """The problem registered under ``name`` (:data:`PROBLEMS`)."""
  if name not in PROBLEMS:
    raise ValueError(f"Unknown problem {name!r}; choose one of {', '.join(PROBLEMS)}.")
  return PROBLEMS[name](**kwargs)


def problem_objective(problem: Problem):
  """The objective ``(outputs, batch) -> losses [m]`` of a problem whose decision vector
  is the output of :class:`hyperjax.targets.DecisionVector` (``[batch, dim]``)."""

  def objective(outputs, batch):
    del batch
    return jnp.mean(jax.vmap(problem.losses)(outputs), axis=0)

  return objective
