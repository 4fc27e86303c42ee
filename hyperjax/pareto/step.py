"""The compiled Pareto training step: many rays per step via ``jax.vmap``.

References:
  Navon et al., ICLR 2021 (PHN: one ray per step; PHN-HVI-style variants draw several).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from hyperjax.pareto import rays as rays_lib
from hyperjax.pareto import solvers
from hyperjax.target import Target

RAY_BATCHING = ("whole", "split")


def task_losses(target: Target, weights: Any, images: jax.Array, labels: jax.Array,
                train: bool | None = None) -> tuple[jax.Array, jax.Array]:
  """Per-task mean cross-entropy and accuracy ``[m]`` of a multi-head target.

  Args:
    target: a target returning one logits array per task.
    weights: its weights.
    images: ``[batch, ...]``.
    labels: ``[batch, m]`` int.
    train: passed to the target (BatchNorm targets normalise with batch statistics).
  """
  logits = target.apply(weights, images, **({} if train is None else {"train": train}))
  losses = jnp.stack([optax.softmax_cross_entropy_with_integer_labels(l, labels[:, i]).mean()
                      for i, l in enumerate(logits)])
  accuracies = jnp.stack([jnp.mean(jnp.argmax(l, -1) == labels[:, i])
                          for i, l in enumerate(logits)])
  return losses, accuracies


def _gram(jacobian: Any) -> jax.Array:
  """``G G^T`` from a pytree of per-objective gradients with leading axis ``m``."""
  return sum(jnp.einsum("i...,j...->ij", leaf, leaf) for leaf in jax.tree.leaves(jacobian))


def make_train_step(hnet: Any, target: Target, optimizer: optax.GradientTransformation, *,
                    solver: str, num_objectives: int, num_rays: int = 1, ray_alpha: float = 0.2,
                    ray_batching: str = "whole", solver_options: dict | None = None,
                    train_mode: bool | None = None, par: Any = None) -> Callable:
  """Builds ``step(state, images, labels, rng) -> (state, metrics)`` (jitted, donating state).

  Each step draws ``num_rays`` rays from Dirichlet(``ray_alpha``); every ray either sees
  the whole batch (``'whole'``) or its own ``batch / num_rays`` slice (``'split'``).
  The loss of a ray is ``sum_i w_i l_i`` with the solver's weights ``w`` (constants);
  the update averages over rays. EPO and CPMTL need per-task gradients with respect to
  the hypernetwork parameters: one ``vjp`` per task (``vmap`` over the identity), whose
  Gram matrix feeds the solver and whose weighted sum is the gradient (no extra
  backward pass).

  Args:
    hnet: a hypernetwork module (``hnet.apply(variables, ray) -> weights``).
    target: the multi-head target.
    optimizer: an optax transformation.
    solver: one of :data:`hyperjax.pareto.solvers.SOLVERS`.
    num_objectives: number of tasks ``m``.
    num_rays: rays per step.
    ray_alpha: Dirichlet concentration.
    ray_batching: ``'whole'`` or ``'split'``.
    solver_options: extra solver arguments (EPO ``eps``/``relax``, CPMTL ``references``).
    train_mode: ``train=`` for targets with BatchNorm (None for targets without).
    par: a :class:`hyperjax.training.sharding.Parallelism`: the step keeps the state's
      shardings and splits the rays over the mesh's ``'ray'`` axis (default: one device).
  """
  if solver not in solvers.SOLVERS:
    raise ValueError(f"Unknown solver {solver!r}; choose one of {', '.join(solvers.SOLVERS)}.")
  if ray_batching not in RAY_BATCHING:
    raise ValueError(f"Unknown ray_batching {ray_batching!r}; choose one of {RAY_BATCHING}.")
  if num_rays < 1:
    raise ValueError(f"num_rays must be at least 1, got {num_rays}.")
  options = dict(solver_options or {})

  def ray_losses(variables, ray, images, labels):
    return task_losses(target, hnet.apply(variables, ray), images, labels, train_mode)

  def ray_update(variables, ray, images, labels):
    """(gradient pytree, losses [m], accuracies [m], weights [m]) for one ray."""
    if solvers.NEEDS_GRAM[solver]:
      (losses, accuracies), vjp = _vjp_with_aux(ray_losses, variables, ray, images, labels)
      (jacobian,) = jax.vmap(vjp)(jnp.eye(num_objectives, dtype=losses.dtype))
      weights = solvers.solver_weights(solver, losses, _gram(jacobian), ray, **options)
      grads = jax.tree.map(lambda j: jnp.tensordot(weights, j, 1), jacobian)
      return grads, losses, accuracies, weights

    def scalar(v):
      losses, accuracies = ray_losses(v, ray, images, labels)
      weights = jax.lax.stop_gradient(
          solvers.solver_weights(solver, jax.lax.stop_gradient(losses), None, ray, **options))
      return jnp.sum(weights * losses), (losses, accuracies, weights)

    grads, (losses, accuracies, weights) = jax.grad(scalar, has_aux=True)(variables)
    return grads, losses, accuracies, weights

  def step(state, images, labels, rng):
    rays = rays_lib.sample_rays(rng, num_rays, ray_alpha, num_objectives)
    if par is not None:
      rays = par.constrain(rays, "ray")
    if ray_batching == "split":
      if images.shape[0] % num_rays:
        raise ValueError(f"batch_size {images.shape[0]} is not divisible by num_rays {num_rays} "
                         "(needed for ray_batching='split').")
      images = images.reshape(num_rays, -1, *images.shape[1:])
      labels = labels.reshape(num_rays, -1, *labels.shape[1:])
      if par is not None:
        images, labels = (par.constrain(a, "ray", "data") for a in (images, labels))
      data_axes = 0
    else:
      data_axes = None
    grads, losses, accuracies, weights = jax.vmap(
        ray_update, in_axes=(None, 0, data_axes, data_axes))(state["params"], rays, images, labels)
    grads = jax.tree.map(lambda g: jnp.mean(g, axis=0), grads)
    updates, opt_state = optimizer.update(grads, state["opt_state"], state["params"])
    params = optax.apply_updates(state["params"], updates)
    metrics = {"loss": jnp.mean(jnp.sum(weights * losses, -1))}
    for i in range(num_objectives):
      metrics[f"loss_{i}"] = jnp.mean(losses[:, i])
      metrics[f"accuracy_{i}"] = jnp.mean(accuracies[:, i])
    return {"params": params, "opt_state": opt_state}, metrics

  if par is not None:
    return par.jit_step(step)
  return functools.partial(jax.jit, donate_argnums=0)(step)


def _vjp_with_aux(fn, variables, ray, images, labels):
  """``((losses, accuracies), vjp_of_losses)``."""
  losses, vjp, accuracies = jax.vjp(lambda v: fn(v, ray, images, labels), variables, has_aux=True)
  return (losses, accuracies), vjp
