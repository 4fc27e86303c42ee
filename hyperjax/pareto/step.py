"""The compiled Pareto training step: many rays per step via ``jax.vmap``.

References:
  Navon et al., ICLR 2021 (PHN: one ray per step; PHN-HVI-style variants draw several).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import optax

from hyperjax.data.sources import batch_field
from hyperjax.pareto import rays as rays_lib
from hyperjax.pareto.objectives import Objective, evaluate_objective, per_head_cross_entropy
from hyperjax.pareto.solvers import Solver
from hyperjax.target import Target
from hyperjax.training.step import make_train_step

RAY_BATCHING = ("whole", "split")


def target_outputs(target: Target, weights: Any, inputs: Any, train: bool,
                   rng: jax.Array | None = None) -> Any:
  """The target's outputs, in training (``train=True``) or evaluation mode.

  Targets with BatchNorm normalise with batch statistics in training; dropout targets
  draw their masks from ``rng`` (training only).
  """
  kwargs: dict[str, Any] = {}
  if target.takes_train:
    kwargs["train"] = train
  if train and target.uses_dropout and rng is not None:
    kwargs["rngs"] = {"dropout": rng}
  return target.apply(weights, inputs, **kwargs)


def _gram(jacobian: Any) -> jax.Array:
  """``G G^T`` from a pytree of per-objective gradients with leading axis ``m``."""
  return jnp.asarray(sum(jnp.einsum("i...,j...->ij", leaf, leaf)
                         for leaf in jax.tree.leaves(jacobian)))


def metric_names(num_objectives: int, names: Sequence[str] | None) -> list[str]:
  """Objective labels for metrics (``loss_<name>``): the given names, or ``0..m-1``."""
  names = [str(i) for i in range(num_objectives)] if names is None else list(names)
  if len(names) != num_objectives:
    raise ValueError(f"objective_names has {len(names)} names for {num_objectives} objectives.")
  return names


def make_pareto_step(hnet: Any, target: Target, optimizer: optax.GradientTransformation,
                     solver: Solver, objective: Objective | None = None, *, num_objectives: int,
                     num_rays: int = 1, ray_alpha: float = 0.2, ray_batching: str = "whole",
                     inputs_key: int | str | None = None,
                     objective_names: Sequence[str] | None = None, par: Any = None) -> Callable:
  """Builds ``step(state, batch, rng) -> (state, metrics)`` (jitted, donating state).

  Each step draws ``num_rays`` rays from Dirichlet(``ray_alpha``); every ray either sees
  the whole batch (``'whole'``) or its own ``batch / num_rays`` slice (``'split'``).
  The loss of a ray is ``sum_i w_i l_i`` with the solver's weights ``w`` (constants);
  the update averages over rays. Solvers that need the Gram matrix (EPO, CPMTL) get
  per-objective gradients with respect to the hypernetwork parameters from one ``vjp``
  per objective (``vmap`` over the identity), whose weighted sum is the gradient (no
  extra backward pass).

  Args:
    hnet: a hypernetwork module (``hnet.apply(variables, ray) -> weights``).
    target: the multi-output target.
    optimizer: an optax transformation.
    solver: a :class:`~hyperjax.pareto.solvers.Solver` (``solvers.epo(eps=...)``).
    objective: ``(outputs, batch) -> losses [m]`` or ``(losses, metrics)``
      (default: per-head cross-entropy on integer labels ``[batch, m]``).
    num_objectives: ``m``.
    num_rays: rays per step.
    ray_alpha: Dirichlet concentration.
    ray_batching: ``'whole'`` or ``'split'``.
    inputs_key: where the target's input is in a batch (default ``batch[0]`` / ``'x'``).
    objective_names: labels of the objectives in the metrics (``loss_<name>``).
    par: a :class:`hyperjax.training.sharding.Parallelism`: the step keeps the state's
      shardings and splits the rays over the mesh's ``'ray'`` axis (default: one device).

  Returns:
    ``step``; its metrics are ``loss`` (the ray-weighted loss, mean over rays) and, per
    objective, ``loss_<name>`` and each of the objective's metrics ``<metric>_<name>``.
  """
  if ray_batching not in RAY_BATCHING:
    raise ValueError(f"Unknown ray_batching {ray_batching!r}; choose one of {RAY_BATCHING}.")
  if num_rays < 1:
    raise ValueError(f"num_rays must be at least 1, got {num_rays}.")
  objective = objective or per_head_cross_entropy()
  names = metric_names(num_objectives, objective_names)

  def ray_losses(variables, ray, batch, rng):
    outputs = target_outputs(target, hnet.apply(variables, ray),
                             batch_field(batch, inputs_key, "inputs"), True, rng)
    return evaluate_objective(objective, outputs, batch)

  def ray_update(variables, ray, batch, rng):
    """(gradient pytree, losses [m], metrics, weights [m]) for one ray."""
    if solver.needs_gram:
      losses, vjp, metrics = jax.vjp(lambda v: ray_losses(v, ray, batch, rng), variables,
                                     has_aux=True)
      (jacobian,) = jax.vmap(vjp)(jnp.eye(num_objectives, dtype=losses.dtype))
      weights = jax.lax.stop_gradient(solver.weights(losses, _gram(jacobian), ray))
      grads = jax.tree.map(lambda j: jnp.tensordot(weights, j, 1), jacobian)
      return grads, losses, metrics, weights

    def scalar(v):
      losses, metrics = ray_losses(v, ray, batch, rng)
      weights = jax.lax.stop_gradient(solver.weights(jax.lax.stop_gradient(losses), None, ray))
      return jnp.sum(weights * losses), (losses, metrics, weights)

    grads, (losses, metrics, weights) = jax.grad(scalar, has_aux=True)(variables)
    return grads, losses, metrics, weights

  def grad_fn(params, state, batch, rng):
    del state
    rays = rays_lib.sample_rays(rng, num_rays, ray_alpha, num_objectives)
    if par is not None:
      rays = par.constrain(rays, "ray")
    data_axes: int | None = None
    if ray_batching == "split":
      size = jax.tree.leaves(batch)[0].shape[0]
      if size % num_rays:
        raise ValueError(f"batch_size {size} is not divisible by num_rays {num_rays} "
                         "(needed for ray_batching='split').")
      batch = jax.tree.map(lambda a: a.reshape(num_rays, -1, *a.shape[1:]), batch)
      if par is not None:
        batch = jax.tree.map(lambda a: par.constrain(a, "ray", "data"), batch)
      data_axes = 0
    keys = jax.random.split(jax.random.fold_in(rng, 1), num_rays)  # dropout masks
    if num_rays == 1:  # no vmap over one ray: the target's ops stay unbatched (faster on CPU)
      grads, losses, metrics, weights = jax.tree.map(
          lambda a: a[None], ray_update(params, rays[0], batch, keys[0]))
    else:
      grads, losses, metrics, weights = jax.vmap(ray_update, in_axes=(None, 0, data_axes, 0))(
          params, rays, batch, keys)
    grads = jax.tree.map(lambda g: jnp.mean(g, axis=0), grads)
    out = {"loss": jnp.mean(jnp.sum(weights * losses, -1))}
    for i, name in enumerate(names):
      out[f"loss_{name}"] = jnp.mean(losses[:, i])
      for key, value in metrics.items():
        out[f"{key}_{name}"] = jnp.mean(value[:, i])
    return grads, out, {}

  return make_train_step(optimizer, grad_fn=grad_fn, par=par)
