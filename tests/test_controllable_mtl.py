"""Controllable Pareto MTL (Lin et al. 2020) and its exact min-norm subproblem, against scipy."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize

from hyperjax.pareto import controllable_mtl, metrics, min_norm, solvers
from tests import quadratics


def _scipy_min_norm(gram, active):
  """The min-norm hull point by SLSQP from many starts (an independent oracle)."""
  k = len(gram)
  bounds = [(0.0, 1.0 if a else 0.0) for a in active]
  best = np.inf
  for start in [np.where(active, 1.0, 0.0) / active.sum()] + list(np.eye(k)[active]):
    res = minimize(lambda w: w @ gram @ w, start, jac=lambda w: 2 * gram @ w, bounds=bounds,
                   constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1,
                                 "jac": lambda w: np.ones_like(w)}],
                   method="SLSQP", options={"ftol": 1e-15, "maxiter": 500})
    best = min(best, float(res.x @ gram @ res.x))
  return best


@pytest.mark.parametrize("m,k", [(2, 7), (3, 8), (3, 4)])
def test_min_norm_exact_matches_scipy_on_gradient_spans(m, k):
  """Vectors in the span of m gradients (rank <= m): supports of m + 1 are exact."""
  rng = np.random.default_rng(m * 10 + k)
  for trial in range(40):
    basis = rng.normal(size=(m, 20)) * rng.uniform(0.01, 10.0, (m, 1))
    vectors = rng.normal(size=(k, m)) @ basis
    gram = vectors @ vectors.T
    active = rng.uniform(size=k) < 0.7
    active[rng.integers(k)] = True
    w = np.asarray(min_norm.min_norm_exact(jnp.asarray(gram), jnp.asarray(active),
                                           max_support=m + 1), np.float64)
    assert np.all(w >= 0) and w.sum() == pytest.approx(1.0, abs=1e-5)
    assert np.all(w[~active] == 0)
    value, oracle = w @ gram @ w, _scipy_min_norm(gram, active)
    scale = np.max(np.diag(gram))
    assert value <= oracle + 1e-5 * scale, (trial, value, oracle)
    assert value >= oracle - 1e-5 * scale, (trial, value, oracle)


def test_min_norm_two_vectors_closed_form():
  g1, g2 = np.array([1.0, 0.0]), np.array([0.2, 1.0])
  gram = np.array([[g1 @ g1, g1 @ g2], [g2 @ g1, g2 @ g2]])
  gamma = np.clip((g2 - g1) @ g2 / np.sum((g1 - g2) ** 2), 0, 1)
  for solve in (min_norm.min_norm_exact, min_norm.min_norm_frank_wolfe):
    w = np.asarray(solve(jnp.float32(gram), jnp.array([True, True])))
    np.testing.assert_allclose(w, [gamma, 1 - gamma], atol=1e-4)


def test_frank_wolfe_reaches_its_stated_tolerance():
  rng = np.random.default_rng(3)
  for _ in range(20):
    vectors = rng.normal(size=(9, 3))
    gram = jnp.asarray(vectors @ vectors.T, jnp.float32)
    active = jnp.ones(9, bool)
    exact = np.asarray(min_norm.min_norm_exact(gram, active, max_support=4))
    fw = np.asarray(min_norm.min_norm_frank_wolfe(gram, active, tol=1e-4))
    g = np.asarray(gram, np.float64)
    gap = fw @ g @ fw - exact @ g @ exact
    assert -1e-6 <= gap / np.max(np.diag(g)) <= 1e-4 + 1e-6


def test_reference_vectors_cover_the_quarter_circle():
  u = controllable_mtl.reference_vectors(5, 2)
  np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1.0)
  np.testing.assert_allclose(np.arctan2(u[:, 1], u[:, 0]), np.linspace(0, math.pi / 2, 5),
                             atol=1e-12)
  u3 = controllable_mtl.reference_vectors(3, 3)
  assert len(u3) == 10 and np.all(u3 >= 0)  # the 3-division lattice, boundary included
  np.testing.assert_allclose(np.linalg.norm(u3, axis=1), 1.0)


def test_preference_direction_is_where_r_times_l_is_equal():
  ray = jnp.array([0.6, 0.3, 0.1])
  p = np.asarray(controllable_mtl.preference_direction(ray))
  assert np.linalg.norm(p) == pytest.approx(1.0, abs=1e-6)
  assert metrics.non_uniformity(p, np.asarray(ray)) < 1e-10
  assert p[0] < p[1] < p[2]  # the task that matters most gets the lowest loss


def test_inside_the_region_the_update_is_rescaled_mgda():
  gram = jnp.array([[1.0, 0.2], [0.2, 1.0]])
  ray = jnp.array([0.5, 0.5])
  refs = jnp.asarray(controllable_mtl.reference_vectors(5, 2), jnp.float32)
  alpha = controllable_mtl.decomposition_weights(jnp.array([1.0, 1.0]), gram, ray, refs)
  np.testing.assert_allclose(alpha, [1.0, 1.0], atol=1e-5)  # MGDA (0.5, 0.5), sum |a| = 2
  # Scaling the losses changes nothing: the constraints see the normalised losses.
  alpha2 = controllable_mtl.decomposition_weights(jnp.array([3.0, 3.0]), gram, ray, refs)
  np.testing.assert_allclose(alpha2, alpha, atol=1e-6)


def test_outside_the_region_the_update_moves_towards_it():
  gram = jnp.array([[1.0, 0.2], [0.2, 1.0]])
  refs = jnp.asarray(controllable_mtl.reference_vectors(5, 2), jnp.float32)
  ray = jnp.array([0.8, 0.2])  # task 0 matters most: the region wants l0 < l1
  alpha = np.asarray(controllable_mtl.decomposition_weights(jnp.array([3.0, 0.5]), gram, ray,
                                                            refs))
  assert np.sum(np.abs(alpha)) == pytest.approx(2.0, abs=1e-5)
  assert alpha[0] > 0 > alpha[1]  # descend l0, ascend l1


@pytest.mark.parametrize("ray", [[0.8, 0.2], [0.5, 0.5], [0.2, 0.8], [0.95, 0.05]])
def test_cpmtl_descent_ends_pareto_stationary_inside_its_region(ray):
  """Two quadratics: the decomposition update ends on the Pareto front (the segment between
  the centres) inside the region of p = 1/r, closer to p than to every reference."""
  x, losses = quadratics.descend(solvers.make_solver("cpmtl", num_references=5), ray, 800)
  c = np.asarray(quadratics.CENTRES)
  t = (x - c[0]) @ (c[1] - c[0]) / np.sum((c[1] - c[0]) ** 2)
  np.testing.assert_allclose(x, c[0] + t * (c[1] - c[0]), atol=1e-3)
  p = np.asarray(controllable_mtl.preference_direction(jnp.array(ray)))
  unit = losses / np.linalg.norm(losses)
  refs = controllable_mtl.reference_vectors(5, 2)
  assert np.all(refs @ unit <= p @ unit + 1e-3), (losses, p)


def test_main_phase_alone_stalls_outside_the_region():
  """Without Pareto MTL's initialisation phase the update stops at the first
  Pareto-stationary point, which need not lie in the preference's region."""
  _, losses = quadratics.descend(solvers.make_solver("cpmtl", feasibility_first=False),
                                 [0.2, 0.8], 400)
  assert losses[1] > losses[0]  # stuck near MGDA's balanced point, not favouring task 1


def test_cpmtl_options():
  assert not solvers.make_solver("cpmtl", rule="linear").needs_gram
  np.testing.assert_allclose(solvers.make_solver("cpmtl", rule="linear").weights(
      jnp.ones(2), None, jnp.array([0.3, 0.7])), [0.3, 0.7])
  with pytest.raises(ValueError, match="Unknown cpmtl rule 'mgda'"):
    solvers.make_solver("cpmtl", rule="mgda")
  with pytest.raises(ValueError, match="num_references must be at least 1"):
    controllable_mtl.reference_vectors(0, 2)
