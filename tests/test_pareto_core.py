"""Pareto core: rays, hypervolume (vs moocore), the exact LPs and EPO (vs scipy), solvers."""

import math

import jax
import jax.numpy as jnp
import moocore
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from hyperjax.pareto import metrics, rays, solvers
from tests import quadratics


def test_evaluation_rays_follow_the_protocol():
  r = rays.evaluation_rays(25)
  assert r.shape == (25, 2)
  np.testing.assert_allclose(r.sum(1), 1.0)
  angles = np.arctan2(r[:, 1], r[:, 0])
  np.testing.assert_allclose(angles[[0, -1]], [0.1, math.pi / 2 - 0.1], atol=1e-12)
  np.testing.assert_allclose(np.diff(angles), (math.pi / 2 - 0.2) / 24, atol=1e-12)


def test_simplex_lattice_for_three_objectives():
  r = rays.evaluation_rays(num_objectives=3, divisions=5)
  np.testing.assert_allclose(r.sum(1), 1.0)
  assert (r > 0).all() and len(r) == 6  # interior points of the 5-division lattice
  assert len({tuple(x) for x in np.round(r * 5).astype(int)}) == len(r)


def test_sample_rays_on_the_simplex():
  r = rays.sample_rays(jax.random.key(0), 1000, 0.2, 3)
  assert r.shape == (1000, 3) and bool(jnp.all(r >= 0))
  np.testing.assert_allclose(r.sum(1), 1.0, atol=1e-5)
  # Dirichlet(0.2): most mass near the vertices.
  assert float(jnp.mean(jnp.max(r, 1) > 0.8)) > 0.4


@pytest.mark.parametrize("bad,message", [
    ([[0.5, 0.5, 0.0]], r"shape \[n, 2\]"),
    ([[0.7, 0.7]], "sum to 1"),
    ([[1.2, -0.2]], "non-negative"),
    ([[np.nan, 1.0]], "finite"),
])
def test_validate_rays_errors(bad, message):
  with pytest.raises(rays.RayError, match=message):
    rays.validate_rays(bad, 2)
  assert rays.validate_rays([0.25, 0.75], 2).shape == (1, 2)


@settings(max_examples=40, deadline=None)
@given(points=st.lists(st.tuples(*[st.floats(0, 3, allow_nan=False)] * 2), min_size=1, max_size=30))
def test_hypervolume_2d_matches_moocore(points):
  points = np.asarray(points)
  ref = np.array([2.0, 2.0])
  expected = moocore.hypervolume(points, ref=ref)
  assert metrics.hypervolume(points, ref) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("dims", [3, 4])
def test_hypervolume_nd_matches_moocore(dims):
  rng = np.random.default_rng(dims)
  for _ in range(20):
    points = rng.uniform(0, 1.2, (int(rng.integers(1, 15)), dims))
    points[0] = points[1] if len(points) > 1 else points[0]  # a duplicate
    ref = np.ones(dims)
    assert metrics.hypervolume(points, ref) == pytest.approx(moocore.hypervolume(points, ref=ref),
                                                             abs=1e-9)


def test_hypervolume_edge_cases():
  ref = (2.0, 2.0)
  assert metrics.hypervolume([[1.0, 1.0]], ref) == pytest.approx(1.0)
  assert metrics.hypervolume([[1.0, 1.0], [1.5, 1.5]], ref) == pytest.approx(1.0)  # dominated
  assert metrics.hypervolume([[3.0, 0.5], [2.0, 1.0]], ref) == 0.0  # outside / on the box
  assert metrics.hypervolume([[0.0, 0.0]], ref) == pytest.approx(4.0)


def test_uniformity_is_zero_on_the_ray():
  r = np.array([[0.25, 0.75], [0.5, 0.5]])
  on_ray = 1.0 / r  # r * l constant
  np.testing.assert_allclose(metrics.non_uniformity(on_ray, r), 0.0, atol=1e-12)
  assert metrics.uniformity([[1.0, 0.1]], [[0.5, 0.5]]) > 0.1


def _linprog_max(c, A, b):
  fin = np.isfinite(b)
  m = len(c)
  res = linprog(-c, A_ub=-A[fin], b_ub=-b[fin], A_eq=np.ones((1, m)), b_eq=[1],
                bounds=[(0, None)] * m, method="highs")
  return res


@pytest.mark.parametrize("m", [2, 3, 4])
def test_simplex_lp_matches_scipy_linprog(m):
  rng = np.random.default_rng(m)
  solve = jax.jit(solvers.simplex_lp)
  checked_feasible = 0
  for trial in range(150):
    c = rng.normal(size=m)
    k = int(rng.integers(1, m + 2))
    A, b = rng.normal(size=(k, m)), rng.normal(size=k) * 0.5
    if trial % 3 == 0:
      b[rng.integers(k)] = -np.inf
    res = _linprog_max(c, A, b)
    out = solve(jnp.float32(c), jnp.float32(A), jnp.float32(b))
    assert bool(out.feasible) == (res.status == 0), trial
    if res.status == 0:
      checked_feasible += 1
      assert float(out.alpha @ c) == pytest.approx(-res.fun, abs=1e-3 * (1 + abs(res.fun)))
      assert np.all(np.asarray(A) @ np.asarray(out.alpha) >= b - 1e-3)
  assert checked_feasible > 50


def epo_reference(losses, gram, ray, eps=1e-4):
  """EPO's LPs with scipy, written from Mahapatra & Rajan's description (the oracle)."""
  m = len(losses)
  rl = ray * losses
  lhat = rl / rl.sum()
  mu = np.sum(lhat * np.log(lhat * m))
  a = ray * (np.log(lhat * m) - mu)
  Ca = gram @ a
  if mu > eps:
    J = Ca > 0
    rhs = Ca.copy()
    if J.any():
      rhs[J] = -np.inf
      rhs[np.argmax(rl)] = 0
    else:
      rhs = np.zeros_like(Ca)
    c, A, b = Ca, gram, rhs
  else:
    c = gram.sum(0)
    A = np.vstack([gram, Ca[None]])
    b = np.append(np.zeros(m), min(Ca.max(), 0.0))
  res = _linprog_max(c, A, b)
  return (res.x if res.status == 0 else ray / ray.sum()), c, res.status == 0


@pytest.mark.parametrize("m", [2, 3])
def test_epo_matches_scipy_reference(m):
  rng = np.random.default_rng(10 + m)
  epo = jax.jit(solvers.epo_weights)
  modes = set()
  for trial in range(120):
    G = rng.normal(size=(m, 6))
    gram = G @ G.T
    ray = rng.dirichlet(np.ones(m))
    losses = rng.uniform(0.2, 2.0, m)
    if trial % 4 == 0:  # exactly on the ray: descent mode
      losses = 1.0 / ray
    alpha_ref, c, ok = epo_reference(losses, gram, ray)
    weights = np.asarray(epo(jnp.float32(losses), jnp.float32(gram), jnp.float32(ray)))
    assert weights.sum() == pytest.approx(m, rel=1e-4)
    _, mu, _ = solvers.epo_adjustments(jnp.float32(losses), jnp.float32(ray))
    modes.add(bool(mu > 1e-4))
    if ok:  # same optimal objective (vertices may differ on ties)
      assert float(weights / m @ c) == pytest.approx(float(alpha_ref @ c), abs=2e-3 * (1 + abs(alpha_ref @ c)))
    else:
      np.testing.assert_allclose(weights / m, ray / ray.sum(), rtol=1e-5)
  assert modes == {True, False}


def test_epo_keeps_small_real_constraints():
  """Tasks whose gradients are 1e4x smaller keep their constraints (no row is mistaken for
  float noise): the published counter-example, then ill-conditioned and rank-deficient Gram
  matrices, each against the scipy LP, constraint by constraint in each row's own scale."""
  g = np.array([[-4e-5, -5e-5, 1.6e-4], [-0.8, -0.3, -0.3]])
  weights = solvers.epo_weights(jnp.float32([1.1, 1.7]), jnp.float32(g @ g.T),
                                jnp.float32([0.05, 0.95]))
  np.testing.assert_allclose(weights, [1.727, 0.273], atol=2e-3)  # linprog's solution
  rng = np.random.default_rng(3)
  epo = jax.jit(solvers.epo_weights)
  checked = 0
  for trial in range(150):
    m = 2 + trial % 2
    G = rng.normal(size=(m, 6)) * 10.0 ** rng.uniform(-5, 0, (m, 1))  # per-task scales
    if trial % 5 == 0:  # rank-deficient: one task's gradient a multiple of another's
      G[-1] = G[0] * rng.uniform(-2, 2)
    gram = G @ G.T
    ray, losses = rng.dirichlet(np.ones(m)), rng.uniform(0.2, 2.0, m)
    alpha_ref, c, ok = epo_reference(losses, gram, ray)
    alpha = np.asarray(epo(jnp.float32(losses), jnp.float32(gram), jnp.float32(ray))) / m
    _, mu, a = (np.asarray(v) for v in solvers.epo_adjustments(jnp.float32(losses),
                                                                jnp.float32(ray)))
    if not ok or mu <= 1e-4:
      continue
    checked += 1
    Ca = gram @ a
    rhs = np.where(Ca > 0, -np.inf, Ca)
    rhs[np.argmax(ray * losses)] = 0.0
    scale = np.sqrt(np.diag(gram) * np.diag(gram).max())
    slack = gram @ alpha - np.where(np.any(Ca > 0), rhs, 0.0)
    assert np.all(slack >= -1e-3 * scale), (trial, slack / scale)
    assert float(alpha @ c) == pytest.approx(float(alpha_ref @ c), abs=2e-3 * (1 + abs(alpha_ref @ c)))
  assert checked > 60


def test_linear_and_chebyshev_weights():
  losses, ray = jnp.array([1.0, 3.0]), jnp.array([0.6, 0.4])
  np.testing.assert_allclose(solvers.ls().weights(losses, None, ray), ray)
  np.testing.assert_allclose(solvers.chebyshev().weights(losses, None, ray), [0.0, 0.4])


@pytest.mark.parametrize("name", sorted(solvers.SOLVERS))
def test_every_solver_favours_the_task_with_the_larger_ray_entry(name):
  """One ray convention for the library: the larger r_i, the lower l_i."""
  solver = solvers.make_solver(name)
  for ray in ([0.8, 0.2], [0.2, 0.8]):
    _, losses = quadratics.descend(solver, ray)
    favoured = int(np.argmax(ray))
    assert losses[favoured] < losses[1 - favoured], (name, ray, losses)
    if name in ("epo", "chebyshev"):  # both aim at r_i l_i equal for every task
      assert metrics.non_uniformity(losses, np.asarray(ray)) < 1e-3, (name, ray, losses)


def test_unknown_solver():
  with pytest.raises(ValueError, match="Unknown solver 'mgda'"):
    solvers.make_solver("mgda")
