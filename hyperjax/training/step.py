"""The one training-step factory every experiment uses: gradients in, a donated step out.

A train state is a dict ``{'params', 'opt_state', **extra}`` (``extra``: e.g. BatchNorm
statistics under ``'state'``). An experiment supplies how the gradient is computed, as a
scalar loss (:func:`make_train_step` with ``loss_fn``) or, for multi-objective updates
that need more than one backward pass, as a gradient function (``grad_fn``); the factory
adds the optax update and compiles the step once, with the state donated and, given a
:class:`~hyperjax.training.sharding.Parallelism`, its shardings fixed.

  step = make_train_step(optimizer, loss_fn=lambda params, state, x, y: (loss, metrics))
  state, metrics = step(state, x, y)
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping

import jax
import optax

# (params, state, *args) -> (grads, metrics, updates of the state's other entries)
GradFn = Callable[..., tuple[Any, Mapping[str, jax.Array], Mapping[str, Any]]]


def apply_gradients(optimizer: optax.GradientTransformation, train_state: Mapping[str, Any],
                    grads: Any, /, **updates: Any) -> dict:
  """One optax update of ``train_state['params']``; its other entries are kept unless
  ``updates`` replaces them (e.g. ``state=`` new BatchNorm statistics)."""
  deltas, opt_state = optimizer.update(grads, train_state["opt_state"], train_state["params"])
  return {**train_state, "params": optax.apply_updates(train_state["params"], deltas),
          "opt_state": opt_state, **updates}


def init_train_state(optimizer: optax.GradientTransformation, params: Any, **extra: Any) -> dict:
  """``{'params', 'opt_state', **extra}`` on the host (sharded: ``Parallelism.create_train_state``)."""
  return {"params": params, "opt_state": optimizer.init(params), **extra}


def gradients_of_loss(loss_fn: Callable[..., tuple[jax.Array, Any]]) -> GradFn:
  """A :data:`GradFn` from ``loss_fn(params, state, *args) -> (loss, aux)``.

  ``aux`` is a metrics mapping, or ``(metrics, updates)`` when the loss also updates
  entries of the state (BatchNorm statistics). ``metrics['loss']`` defaults to the loss.
  """

  def grad_fn(params, state, *args):
    (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, state, *args)
    metrics, updates = aux if isinstance(aux, tuple) else (aux, {})
    return grads, {"loss": loss, **metrics}, updates

  return grad_fn


def make_train_step(optimizer: optax.GradientTransformation, *,
                    loss_fn: Callable[..., tuple[jax.Array, Any]] | None = None,
                    grad_fn: GradFn | None = None, par: Any = None) -> Callable:
  """``step(state, *args) -> (state, metrics)``, jitted once, donating ``state``.

  Args:
    optimizer: the optax transformation applied to the gradients.
    loss_fn: ``(params, state, *args) -> (loss, metrics)`` or
      ``(loss, (metrics, state_updates))``; differentiated with respect to ``params``.
    grad_fn: instead of ``loss_fn``, ``(params, state, *args) -> (grads, metrics,
      state_updates)`` for updates that are not the gradient of one scalar.
    par: a :class:`~hyperjax.training.sharding.Parallelism`: the new state keeps the
      rules' shardings, the metrics come back replicated (default: one device).
  """
  if (loss_fn is None) == (grad_fn is None):
    raise ValueError("make_train_step takes exactly one of loss_fn and grad_fn.")
  gradients = grad_fn if grad_fn is not None else gradients_of_loss(loss_fn)

  def step(state, *args):
    grads, metrics, updates = gradients(state["params"], state, *args)
    return apply_gradients(optimizer, state, grads, **updates), dict(metrics)

  if par is not None:
    return par.jit_step(step)
  return functools.partial(jax.jit, donate_argnums=0)(step)
