"""Two quadratics l_i = |x - c_i|^2 in the plane: the smallest conflicting problem, whose
Pareto set is the segment between the centres; shared by the solver tests."""

import jax
import jax.numpy as jnp
import numpy as np

CENTRES = jnp.array([[1.0, 0.0], [-1.0, 0.5]])


def losses_fn(x):
  return jnp.sum((x[None] - CENTRES) ** 2, axis=1)


def descend(solver, ray, steps=600, lr=0.02):
  """Gradient descent from the origin along the solver's weights: ``(x, losses)``."""
  ray = jnp.asarray(ray, jnp.float32)

  @jax.jit
  def step(x):
    losses, jac = losses_fn(x), jax.jacobian(losses_fn)(x)
    w = solver.weights(losses, jac @ jac.T if solver.needs_gram else None, ray)
    return x - lr * w @ jac

  x = jnp.zeros(2)
  for _ in range(steps):
    x = step(x)
  return np.asarray(x), np.asarray(losses_fn(x), np.float64)
