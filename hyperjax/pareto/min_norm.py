"""The min-norm point of a convex hull, from a Gram matrix: MGDA's subproblem.

``min_w  w^T K w  s.t.  w >= 0, sum w = 1, w_i = 0 where inactive``, with ``K`` the Gram
matrix of the vectors (task gradients, and for Pareto MTL the gradients of the active
preference-region constraints). Two solvers:

* :func:`min_norm_exact`: exact, by enumerating supports. The minimiser of a strictly
  convex-on-the-hull quadratic is the equality-constrained minimiser on its own support,
  and (Caratheodory) a support of at most ``rank + 1`` vectors always exists; so the
  best feasible KKT solution over all supports of that size is the optimum. When every
  vector lies in the span of ``m`` task gradients -- Pareto MTL's constraint gradients
  are combinations of them -- ``rank <= m``, which makes this exact and cheap for the
  few objectives of multi-task learning (two objectives, five references: 63 supports).
* :func:`min_norm_frank_wolfe`: Frank-Wolfe with exact line search (Sener & Koltun's
  MGDA-UB solver), run until its duality gap ``2 (w^T K w - min_j (K w)_j)`` is below
  ``tol`` times ``max_i K_ii``: the stated tolerance when the supports are too many.

References:
  Sener & Koltun. "Multi-Task Learning as Multi-Objective Optimization", NeurIPS 2018.
  Lin, Zhen, Li, Zhang, Kwong. "Pareto Multi-Task Learning", NeurIPS 2019.
"""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

MAX_SUPPORTS = 4096  # above this many candidate supports, Frank-Wolfe to a tolerance


def num_supports(k: int, max_support: int) -> int:
  """How many supports :func:`min_norm_exact` enumerates for ``k`` vectors."""
  return sum(math.comb(k, s) for s in range(1, min(k, max_support) + 1))


def _supports(k: int, max_support: int) -> np.ndarray:
  """All index subsets of sizes 1..max_support, padded with -1: ``[n, max_support]``."""
  rows = [list(c) + [-1] * (max_support - s) for s in range(1, min(k, max_support) + 1)
          for c in itertools.combinations(range(k), s)]
  return np.asarray(rows, np.int32)


def min_norm_exact(gram: jax.Array, active: jax.Array, max_support: int | None = None
                   ) -> jax.Array:
  """Exact simplex weights ``w [k]`` (0 where inactive) of the min-norm hull point.

  Args:
    gram: ``[k, k]`` inner products of the vectors.
    active: ``[k]`` bool; inactive vectors take no part (at least one must be active).
    max_support: the largest support tried; exact when it is at least the rank of the
      vectors plus one (default: ``k``, always exact).
  """
  k = gram.shape[0]
  s = min(k, max_support or k)
  idx = _supports(k, s)  # [n, s]
  used = idx >= 0
  safe = np.where(used, idx, 0)
  scale = jnp.maximum(jnp.max(jnp.diagonal(gram)), 1e-30)
  g = gram / scale  # the weights do not depend on the scale; the solves are better posed
  sub = g[safe[:, :, None], safe[:, None, :]]  # [n, s, s]
  both = used[:, :, None] & used[:, None, :]
  eye = np.eye(s, dtype=bool)[None]
  sub = jnp.where(both, sub, jnp.where(eye, 1.0, 0.0))
  ones = jnp.asarray(used, g.dtype)
  kkt = jnp.concatenate([
      jnp.concatenate([sub, ones[:, :, None]], 2),
      jnp.concatenate([ones[:, None, :], jnp.zeros((len(idx), 1, 1), g.dtype)], 2)], 1)
  rhs = jnp.zeros((len(idx), s + 1), g.dtype).at[:, s].set(1.0)
  sol = jnp.linalg.solve(kkt, rhs[..., None])[..., 0][:, :s]
  sol = jnp.where(used, sol, 0.0)
  # Any candidate with w >= 0, sum w = 1 on active vectors is a point of the hull, so the
  # best of them is never below the optimum, and the optimum's own support is among them.
  ok = (jnp.all(jnp.isfinite(sol), 1) & jnp.all(sol >= -1e-6, 1)
        & (jnp.abs(jnp.sum(sol, 1) - 1.0) < 1e-4)
        & jnp.all(jnp.where(used, active[safe], True), 1))
  w = jnp.zeros((len(idx), k), g.dtype).at[jnp.arange(len(idx))[:, None], safe].add(
      jnp.clip(sol, 0.0, None))
  w = w / jnp.maximum(jnp.sum(w, 1, keepdims=True), 1e-30)
  value = jnp.where(ok, jnp.einsum("ni,ij,nj->n", w, g, w), jnp.inf)
  return w[jnp.argmin(value)]


def min_norm_frank_wolfe(gram: jax.Array, active: jax.Array, tol: float = 1e-6,
                         max_iterations: int = 10_000) -> jax.Array:
  """Frank-Wolfe simplex weights of the min-norm hull point, to duality gap ``tol``.

  The gap ``2 (w^T K w - min_{j active} (K w)_j)`` bounds the distance of ``w^T K w`` from
  the optimum; iterations stop once it is below ``tol * max_i K_ii`` (or after
  ``max_iterations``).
  """
  k = gram.shape[0]
  scale = jnp.maximum(jnp.max(jnp.diagonal(gram)), 1e-30)
  g = gram / scale
  w0 = jnp.where(active, 1.0, 0.0).astype(g.dtype)
  w0 = w0 / jnp.maximum(jnp.sum(w0), 1.0)

  def gap(w):  # f(w) - f* <= grad f(w) . (w - e_t) for f = w^T K w, grad f = 2 K w
    grad = g @ w
    return 2.0 * (w @ grad - jnp.min(jnp.where(active, grad, jnp.inf)))

  def cond(carry):
    w, i = carry
    return (gap(w) > tol) & (i < max_iterations)

  def body(carry):
    w, i = carry
    grad = g @ w
    t = jnp.argmin(jnp.where(active, grad, jnp.inf))
    d = w - jax.nn.one_hot(t, k, dtype=g.dtype)
    denom = d @ g @ d
    gamma = jnp.clip(jnp.where(denom > 1e-30, (d @ grad) / jnp.maximum(denom, 1e-30), 0.0),
                     0.0, 1.0)
    return w - gamma * d, i + 1

  w, _ = jax.lax.while_loop(cond, body, (w0, jnp.int32(0)))
  return w


def min_norm_weights(gram: jax.Array, active: jax.Array, max_support: int | None = None,
                     tol: float = 1e-6) -> jax.Array:
  """:func:`min_norm_exact` when its supports are at most :data:`MAX_SUPPORTS`, else
  :func:`min_norm_frank_wolfe` to duality gap ``tol`` (relative to ``max_i K_ii``)."""
  k = gram.shape[0]
  if num_supports(k, max_support or k) <= MAX_SUPPORTS:
    return min_norm_exact(gram, active, max_support)
  return min_norm_frank_wolfe(gram, active, tol)
