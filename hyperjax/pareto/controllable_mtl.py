"""Controllable Pareto Multi-Task Learning (Lin, Yang, Zhang, Kwong, arXiv 2010.06313).

One hypernetwork maps a preference to a multi-task model; each step follows either the
linear scalarisation ``sum_i p_i grad l_i`` or the *preference-based decomposition* of
Pareto MTL (Lin et al., NeurIPS 2019): the loss space is cut into the angular regions of
``K`` unit reference vectors ``u^j`` (evenly spread over ``[0, pi/2]`` for two objectives,
the Das-Dennis lattice for more), the region of the preference direction ``p`` is
``G_j(l) = (u^j - p) . l / |l| <= 0`` for all ``j``, and the update is the min-norm
element of the convex hull of the task gradients and of the gradients of the violated
constraints (``G_j > 0``; while any is violated, of those alone: Pareto MTL's
initialisation phase, see :func:`decomposition_weights`):

  ``alpha_i = lambda_i + sum_{j active} beta_j (u^j_i - p_i)``,
  rescaled as in Pareto MTL to ``sum_i |alpha_i| = m``.

The min-norm subproblem is solved exactly (:func:`hyperjax.pareto.min_norm.min_norm_exact`;
all its vectors lie in the span of the ``m`` task gradients, so supports of at most
``m + 1`` vectors suffice).

**Ray convention.** In Pareto MTL the loss vector lies *along* ``p``: a larger ``p_i``
means a larger ``l_i``. hyperjax's rays say how much each task matters (the larger
``r_i``, the lower ``l_i``) for every solver, so a ray ``r`` maps to the loss direction
``p = (1/r) / |1/r|``: the direction on which ``r_i l_i`` is the same for every task,
the same target as EPO's and the one :func:`hyperjax.pareto.metrics.uniformity`
scores. Models of a ``cpmtl`` run are queried with rays like those of any other solver.

The paper's generator (preference + chunk id -> shared MLP -> a projection tensor of the
chunk's own) is the ``chunked`` family with ``share_projection=False``
(:class:`hyperjax.hypernets.chunked.ChunkedHypernet`); the ``configs/cpmtl_multi_mnist.py``
entries build it.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from hyperjax.pareto import min_norm
from hyperjax.pareto import rays as rays_lib

RULES = ("decomposition", "linear")  # the paper's two update rules


def preference_direction(ray: jax.Array, floor: float = 1e-6) -> jax.Array:
  """The unit loss direction ``(1/r) / |1/r|`` of a ray (entries floored at ``floor``)."""
  inv = 1.0 / jnp.maximum(ray, floor)
  return inv / jnp.linalg.norm(inv)


def reference_vectors(num_references: int, num_objectives: int) -> np.ndarray:
  """Pareto MTL's unit reference vectors ``[K, m]`` in the positive orthant.

  Two objectives: ``(cos t, sin t)`` at ``num_references`` angles evenly spaced over
  ``[0, pi/2]`` (endpoints included). More: the Das-Dennis simplex lattice with
  ``num_references`` divisions per axis (boundary included), scaled to unit length.
  """
  if num_references < 1:
    raise ValueError(f"num_references must be at least 1, got {num_references}.")
  if num_objectives == 2:
    t = np.linspace(0.0, math.pi / 2, num_references)
    return np.stack([np.cos(t), np.sin(t)], 1)
  points = rays_lib.simplex_lattice(num_references, num_objectives)
  return points / np.linalg.norm(points, axis=1, keepdims=True)


def decomposition_weights(losses: jax.Array, gram: jax.Array, ray: jax.Array,
                          references: jax.Array, feasibility_first: bool = True) -> jax.Array:
  """Pareto MTL's decomposition weights ``alpha [m]`` for ray ``r`` (rescaled to
  ``sum |alpha| = m``), treated as constants by the step.

  Args:
    losses / gram / ray: the step's per-task losses, their gradients' Gram matrix, the ray.
    references: ``[K, m]`` reference vectors (:func:`reference_vectors`).
    feasibility_first: while a region constraint is violated, follow the min-norm
      direction of the violated constraints alone -- Pareto MTL's initialisation phase,
      which it runs before the main phase to reach the preference's region. A
      hypernetwork sees a new preference every step, so the phase is chosen per step.
      ``False`` always takes the main-phase rule (tasks and violated constraints
      together), which stops at the first Pareto-stationary point, inside the region
      or not.
  """
  m = losses.shape[0]
  p = preference_direction(ray)
  u = references / jnp.linalg.norm(references, axis=-1, keepdims=True)
  D = u - p[None]  # [K, m]: constraint j's gradient is sum_i D_ji g_i
  distinct = jnp.linalg.norm(D, axis=-1) > 1e-6  # u^j = p gives no constraint
  unit_losses = losses / jnp.maximum(jnp.linalg.norm(losses), 1e-30)
  violated = distinct & ((D @ unit_losses) > 0)
  full = jnp.concatenate([jnp.concatenate([gram, gram @ D.T], 1),
                          jnp.concatenate([D @ gram, D @ gram @ D.T], 1)], 0)
  tasks = jnp.ones(m, bool)
  if feasibility_first:
    tasks = ~jnp.any(violated) & tasks
  w = min_norm.min_norm_weights(full, jnp.concatenate([tasks, violated]), max_support=m + 1)
  alpha = w[:m] + w[m:] @ D
  alpha = alpha * (m / jnp.maximum(jnp.sum(jnp.abs(alpha)), 1e-30))
  return jax.lax.stop_gradient(alpha)
