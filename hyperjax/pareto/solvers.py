"""Multi-objective update rules: solvers as small pure objects, like optax's transformations.

A solver factory (:func:`ls`, :func:`epo`, :func:`chebyshev`, :func:`cpmtl`) takes the
method's options and returns a :class:`Solver`, whose ``weights`` function returns
per-objective weights ``w [m]`` (treated as constants) so that the
update follows the gradient of ``sum_i w_i l_i``. Inputs are the per-objective losses
``l [m]``, the Gram matrix of the per-objective gradients ``C = G G^T [m, m]`` (only
needed by EPO and CPMTL) and the preference ray ``r [m]``.

One ray convention for every solver: a ray says how much each task matters -- the larger
``r_i``, the lower ``l_i``. LS minimises ``sum r_i l_i``; EPO and Chebyshev aim at
``r_i l_i`` equal for all tasks; CPMTL's decomposition (whose loss vector lies *along*
its preference) is given the loss direction ``1/r`` (:mod:`hyperjax.pareto.controllable_mtl`).

References:
  Navon, Shamsian, Chechik, Fetaya. "Learning the Pareto Front with Hypernetworks",
  ICLR 2021 (PHN-LS, PHN-EPO).
  Mahapatra & Rajan. "Multi-Task Learning with User Preferences: Gradient Descent with
  Controlled Ascent in Pareto Optimization", ICML 2020 (EPO search; its LPs are solved
  here exactly inside the compiled step instead of with cvxpy + GLPK on the host).
  Lin, Yang, Zhang, Kwong. "Controllable Pareto Multi-Task Learning", 2020, and Lin,
  Zhen, Li, Zhang, Kwong. "Pareto Multi-Task Learning", NeurIPS 2019 (decomposition with
  preference regions; weighted Chebyshev scalarisation).
"""

from __future__ import annotations

import inspect
import itertools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hyperjax.pareto import controllable_mtl as cpmtl_lib


# ---- small exact LPs over the simplex ------------------------------------------------------


class LPResult(NamedTuple):
  alpha: jax.Array  # [m]
  feasible: jax.Array  # bool


def _normalise_rows(A: jax.Array, b: jax.Array, row_scales: jax.Array | None = None,
                    rel: float = 1e-5) -> tuple[jax.Array, jax.Array]:
  """Scales each row of ``A a >= b`` to unit norm, so one tolerance fits all rows.

  A row whose norm is below ``rel`` of its natural scale (``row_scales``; default: the
  largest row's norm) is floating-point noise (e.g. ``C a`` when the losses lie exactly
  on the ray, where ``a = 0`` in exact arithmetic): it becomes ``0 >= b`` (with ``b`` in
  the largest row's scale), so noise never becomes a constraint. Per-row scales keep the small but
  real rows of tasks whose gradients are orders of magnitude smaller than the others'.
  """
  norms = jnp.linalg.norm(A, axis=-1)
  largest = jnp.maximum(jnp.max(norms), 1e-30)
  scales = largest if row_scales is None else jnp.maximum(row_scales, 1e-30 * largest)
  small = norms <= rel * scales
  safe = jnp.where(small, 1.0, norms)
  return (jnp.where(small[:, None], 0.0, A / safe[:, None]),
          jnp.where(small, b / largest, b / safe))


def gram_row_scales(gram: jax.Array) -> jax.Array:
  """The natural scale of each row ``g_i . g_j`` of a Gram matrix: ``|g_i| max_j |g_j|``
  (float noise in an entry is a small multiple of the float epsilon times this)."""
  diag = jnp.maximum(jnp.diagonal(gram), 0.0)
  return jnp.sqrt(diag * jnp.max(diag))


def simplex_lp_two(c: jax.Array, A: jax.Array, b: jax.Array, tol: float = 1e-6,
                   row_scales: jax.Array | None = None) -> LPResult:
  """Closed form of ``max c.a  s.t.  a >= 0, sum a = 1, A a >= b`` for 2 variables.

  With ``a = (t, 1 - t)`` every constraint is ``k t >= h``: the feasible set is an
  interval of ``t`` and the linear objective is maximised at one of its ends. Rows with
  ``b = -inf`` are vacuous; ``row_scales``: see :func:`_normalise_rows`.
  """
  A, b = _normalise_rows(A, b, row_scales)
  k = A[:, 0] - A[:, 1]
  h = b - A[:, 1]
  active = jnp.isfinite(b)
  pos, neg = active & (k > tol), active & (k < -tol)
  flat = active & ~pos & ~neg
  lo = jnp.max(jnp.where(pos, h / jnp.where(pos, k, 1.0), 0.0), initial=0.0)
  hi = jnp.min(jnp.where(neg, h / jnp.where(neg, k, 1.0), 1.0), initial=1.0)
  feasible = (lo <= hi + tol) & jnp.all(jnp.where(flat, h <= tol, True))
  t = jnp.where(c[0] - c[1] > 0, hi, lo)
  t = jnp.clip(t, 0.0, 1.0)
  return LPResult(jnp.stack([t, 1.0 - t]), feasible)


def simplex_lp(c: jax.Array, A: jax.Array, b: jax.Array, tol: float = 1e-5,
               row_scales: jax.Array | None = None) -> LPResult:
  """Exact ``max c.a  s.t.  a >= 0, sum a = 1, A a >= b`` by enumerating vertices.

  A vertex of the feasible polytope has ``m - 1`` active inequalities (plus the
  equality); all such systems are solved at once and the best feasible one is
  returned. Exact for the small ``m`` of multi-objective learning (the number of
  systems is ``C(m + k, m - 1)`` for ``k`` rows of ``A``). Rows with ``b = -inf`` are
  vacuous; ``row_scales`` (each row's natural scale, default the largest row's norm)
  decides which rows are float noise (:func:`_normalise_rows`).
  """
  m = c.shape[0]
  if m == 2:
    return simplex_lp_two(c, A, b, row_scales=row_scales)
  A, b = _normalise_rows(A, b, row_scales)
  G = jnp.concatenate([jnp.eye(m, dtype=A.dtype), A], 0)
  h = jnp.concatenate([jnp.zeros(m, A.dtype), b], 0)
  combos = np.asarray(list(itertools.combinations(range(G.shape[0]), m - 1)), np.int32)
  lhs = jnp.concatenate([G[combos], jnp.ones((len(combos), 1, m), A.dtype)], 1)
  rhs = jnp.concatenate([h[combos], jnp.ones((len(combos), 1), A.dtype)], 1)
  usable = jnp.all(jnp.isfinite(h[combos]), axis=1) & (jnp.abs(jnp.linalg.det(lhs)) > 1e-9)
  safe_lhs = jnp.where(usable[:, None, None], lhs, jnp.eye(m, dtype=A.dtype)[None])
  alphas = jnp.linalg.solve(safe_lhs, jnp.where(usable[:, None], rhs, 0.0)[..., None])[..., 0]
  slack = alphas @ G.T - h  # [combos, rows]; -inf rows give +inf slack
  feasible = usable & jnp.all(slack >= -tol, axis=1) & jnp.all(jnp.isfinite(alphas), axis=1)
  value = jnp.where(feasible, alphas @ c, -jnp.inf)
  best = jnp.argmax(value)
  alpha = jnp.clip(alphas[best], 0.0, None)
  return LPResult(alpha / jnp.sum(alpha), jnp.any(feasible))


# ---- solvers ------------------------------------------------------------------------------


def ls_weights(losses: jax.Array, gram: jax.Array | None, ray: jax.Array) -> jax.Array:
  """PHN-LS: ``sum_i r_i l_i``."""
  del losses, gram
  return ray


def chebyshev_weights(losses: jax.Array, gram: jax.Array | None, ray: jax.Array,
              ideal: jax.Array | float = 0.0) -> jax.Array:
  """Weighted Chebyshev ``max_i r_i (l_i - z_i)``: its (sub)gradient weights ``r_k e_k``."""
  del gram
  k = jnp.argmax(ray * (losses - ideal))
  return ray * jax.nn.one_hot(k, losses.shape[0], dtype=losses.dtype)


def epo_adjustments(losses: jax.Array, ray: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """``(rl, mu, a)``: ``rl = r*l``, non-uniformity ``mu = KL(lhat || 1/m)``, and the
  ascent direction ``a = r * (log(m lhat) - mu)`` of EPO."""
  m = losses.shape[0]
  rl = ray * losses
  lhat = rl / jnp.sum(rl)
  eps = jnp.finfo(lhat.dtype).eps
  log_term = jnp.log(jnp.maximum(lhat * m, eps))
  mu = jnp.sum(jnp.where(lhat > eps, lhat * log_term, 0.0))
  return rl, mu, ray * (log_term - mu)


def epo_weights(losses: jax.Array, gram: jax.Array, ray: jax.Array, eps: float = 1e-4,
        relax: bool = False) -> jax.Array:
  """PHN-EPO weights ``m * alpha`` from EPO search's LPs (Mahapatra & Rajan 2020).

  Balance mode (``mu > eps``): ``max alpha.(C a)`` over the simplex subject to
  ``C alpha >= rhs``, where ``rhs = C a`` with entries where ``(C a) > 0`` set to -inf
  (vacuous) and the entry at ``argmax(r*l)`` set to 0 (all zeros when no entry of
  ``C a`` is positive). Descent mode: ``max sum(C alpha)`` subject to
  ``alpha.(C a) >= -neg(max(C a))`` and ``C alpha >= 0`` (``relax=True`` drops the
  first constraint). If the LP is infeasible, ``alpha = r / sum(r)``.
  """
  m = losses.shape[0]
  rl, mu, a = epo_adjustments(losses, ray)
  Ca = gram @ a
  positive = Ca > 0
  rhs = jnp.where(positive, -jnp.inf, Ca)
  rhs = jnp.where(jnp.arange(m) == jnp.argmax(rl), 0.0, rhs)
  rhs = jnp.where(jnp.any(positive), rhs, jnp.zeros_like(Ca))
  # Each task's row is judged against its own gradient's scale, so a task whose gradients
  # are 1e4x smaller keeps its constraint; the C a row against the largest row (noise when
  # the losses lie on the ray and a = 0 in exact arithmetic).
  scales = gram_row_scales(gram)
  balance = simplex_lp(Ca, gram, rhs, row_scales=scales)

  descent_A = gram
  descent_b = jnp.zeros(m, gram.dtype)
  if not relax:
    descent_A = jnp.concatenate([gram, Ca[None]], 0)
    descent_b = jnp.concatenate([descent_b, jnp.minimum(jnp.max(Ca), 0.0)[None]], 0)
    scales = jnp.concatenate([scales, jnp.max(jnp.linalg.norm(gram, axis=-1))[None]], 0)
  descent = simplex_lp(jnp.sum(gram, axis=0), descent_A, descent_b, row_scales=scales)

  use_balance = mu > eps
  alpha = jnp.where(use_balance, balance.alpha, descent.alpha)
  ok = jnp.where(use_balance, balance.feasible, descent.feasible)
  alpha = jnp.where(ok, alpha, ray / jnp.sum(ray))
  return jax.lax.stop_gradient(alpha * m)


# ---- solver objects and their registry ------------------------------------------------------


class Solver(NamedTuple):
  """A multi-objective update rule (pure; safe inside ``jax.jit`` and ``jax.vmap``).

  Attributes:
    name: a label for logs and results.
    weights: ``(losses [m], gram [m, m] | None, ray [m]) -> w [m]``; the update follows
      the gradient of ``sum_i w_i l_i`` (``w`` is treated as a constant).
    needs_gram: whether ``weights`` reads the Gram matrix of the per-objective
      gradients (then the step computes one backward pass per objective).
  """

  name: str
  weights: Callable[[jax.Array, jax.Array | None, jax.Array], jax.Array]
  needs_gram: bool = False


def ls() -> Solver:
  """PHN-LS, linear scalarisation ``sum_i r_i l_i`` (Navon et al., ICLR 2021)."""
  return Solver("ls", ls_weights, needs_gram=False)


def chebyshev(ideal: float = 0.0) -> Solver:
  """Weighted Chebyshev ``max_i r_i (l_i - z_i)`` with ideal point ``z`` (Lin et al. 2019)."""
  return Solver("chebyshev", lambda l, g, r: chebyshev_weights(l, g, r, ideal))


def epo(eps: float = 1e-4, relax: bool = False) -> Solver:
  """PHN-EPO: EPO search's LPs solved exactly in the step (Mahapatra & Rajan, ICML 2020).

  Args:
    eps: non-uniformity below which EPO switches from balancing to descent.
    relax: drop the descent mode's constraint on the ascent direction.
  """
  return Solver("epo", lambda l, g, r: epo_weights(l, g, r, eps, relax), needs_gram=True)


def cpmtl(num_references: int = 5, rule: str = "decomposition",
          feasibility_first: bool = True) -> Solver:
  """Controllable Pareto MTL's update (Lin, Yang, Zhang, Kwong 2020; :mod:`hyperjax.pareto.controllable_mtl`).

  Args:
    num_references: Pareto MTL's reference vectors (angles over [0, pi/2] for two
      objectives, lattice divisions for more).
    rule: ``'decomposition'`` (the preference-based decomposition: normalised active
      constraints, exact min-norm subproblem, alpha rescaled to sum |alpha| = m) or
      ``'linear'`` (linear scalarisation by the ray, the paper's other rule).
    feasibility_first: outside the preference's region, move into it first (Pareto
      MTL's initialisation phase; :func:`controllable_mtl.decomposition_weights`).
  """
  if rule not in cpmtl_lib.RULES:
    raise ValueError(f"Unknown cpmtl rule {rule!r}; choose one of "
                     f"{', '.join(cpmtl_lib.RULES)}.")
  if rule == "linear":
    return Solver("cpmtl", ls_weights, needs_gram=False)

  def weights(losses, gram, ray):
    refs = cpmtl_lib.reference_vectors(num_references, losses.shape[0])
    return cpmtl_lib.decomposition_weights(losses, gram, ray, jnp.asarray(refs, losses.dtype),
                                           feasibility_first)

  return Solver("cpmtl", weights, needs_gram=True)


SOLVERS: dict[str, Callable[..., Solver]] = {
    "ls": ls, "epo": epo, "chebyshev": chebyshev, "cpmtl": cpmtl}


def make_solver(name: str, **kwargs: Any) -> Solver:
  """The solver registered under ``name`` (:data:`SOLVERS`) with the factory's ``kwargs``."""
  if name not in SOLVERS:
    raise ValueError(f"Unknown solver {name!r}; choose one of {', '.join(SOLVERS)}.")
  factory = SOLVERS[name]
  accepted = set(inspect.signature(factory).parameters)
  unknown = sorted(set(kwargs) - accepted)
  if unknown:
    raise ValueError(f"Solver {name!r} has no option(s) {unknown}; it takes "
                     f"{sorted(accepted) or 'none'}.")
  return factory(**kwargs)
