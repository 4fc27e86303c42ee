"""Targets: any Flax module seen as a function of generated weights.

A :class:`Target` bundles the :class:`~hyperjax.spec.WeightSpec` of a module's
trainable parameters with a pure ``apply(weights, *inputs)``. It is built from the
module itself (:meth:`Target.from_linen`, :meth:`Target.from_nnx`), so nobody writes a
shape table or a functional forward pass by hand.

Non-trainable state (BatchNorm statistics)
------------------------------------------
Hypernetworks generate only the trainable leaves; non-trainable collections (Linen's
``batch_stats``, NNX ``BatchStat`` variables) are never generated and are kept apart in
``Target.state``. hyperjax's policy:

* **Training**: normalise with the statistics of the current batch (``train=True``);
  the running averages the module would update are discarded unless you pass
  ``mutable=True`` to get them back.
* **Evaluation**: the weights differ per condition (per ray, per task), so one shared
  running average is wrong for all of them. :func:`calibrate_state` recomputes the
  population statistics *for one set of generated weights* from a few training batches
  (per-condition statistics, "precise BatchNorm"); evaluate with ``train=False`` and that
  state. This avoids the pitfall of the PHN reference code, which normalised with the
  statistics of each *test* batch.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Iterable

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn
from flax import nnx

from hyperjax import spec as spec_lib


@dataclasses.dataclass(frozen=True)
class Target:
  """A target network: its weight spec and a pure function of generated weights.

  Attributes:
    spec: the trainable leaves the hypernetwork must produce.
    state_fn: ``() -> state``, the initial non-trainable collections (``{}`` when
      there are none), e.g. ``{'batch_stats': {...}}`` for Linen; read it as
      ``Target.state`` (computed once, on first use).
    apply_fn: ``(weights, state, train, mutable, args, kwargs) -> output`` or
      ``(output, new_state)`` when ``mutable``.
    init_fn: ``rng -> weights``, the target's own default initialisation (for
      baselines that train the target directly, and initialisation checks).
    name: a label for logs.
    input_shape: the shape of one input example (without the batch axis), when known.
    takes_train: whether the module takes ``train=`` (BatchNorm or dropout); experiments
      pass ``train=True`` in training and ``False`` in evaluation.
    uses_dropout: whether training needs a ``'dropout'`` rng (``rngs={'dropout': key}``).
  """

  spec: spec_lib.WeightSpec
  state_fn: Callable[[], Any]
  apply_fn: Callable[..., Any]
  init_fn: Callable[[jax.Array], Any]
  name: str = "target"
  input_shape: tuple[int, ...] | None = None
  takes_train: bool = False
  uses_dropout: bool = False

  @functools.cached_property
  def state(self) -> Any:
    """The initial non-trainable collections."""
    return self.state_fn()

  @property
  def num_params(self) -> int:
    return self.spec.size

  @property
  def has_state(self) -> bool:
    return bool(jax.tree.leaves(jax.eval_shape(self.state_fn)))

  def apply(self, weights: Any, *args, state: Any = None, train: bool | None = None,
            mutable: bool = False, **kwargs) -> Any:
    """Runs the target with the given weights.

    Args:
      weights: pytree with the structure of ``spec`` (e.g. a hypernetwork's output).
      *args: the module's inputs.
      state: non-trainable collections; defaults to ``self.state``.
      train: passed to the module as ``train=`` when not None (BatchNorm / dropout).
      mutable: if True, returns ``(output, new_state)``.
      **kwargs: other keyword inputs of the module (e.g. ``rngs`` for Linen dropout).

    Returns:
      The module's output (and the updated state when ``mutable``).
    """
    state = self.state if state is None else state
    return self.apply_fn(weights, state, train, mutable, args, kwargs)

  def init_weights(self, rng: jax.Array) -> Any:
    """The weights the module's own initialisers would give (a plain target)."""
    return self.init_fn(rng)

  # ---- constructors -----------------------------------------------------------
  @classmethod
  def from_linen(cls, module: nn.Module, *sample_args, name: str | None = None,
                 uses_dropout: bool = False, **sample_kwargs) -> "Target":
    """Wraps a Linen module.

    Args:
      module: any Linen module.
      *sample_args: sample inputs (arrays or ``jax.ShapeDtypeStruct``; only shapes
        are used, with one example's batch dimension being enough).
      name: label for logs (default: the class name).
      uses_dropout: the module draws dropout masks in training (``rngs={'dropout': k}``).
      **sample_kwargs: keyword inputs for ``init`` (e.g. ``train=False``: the module
        takes ``train=``).
    """
    variables, order = spec_lib.linen_call_order(module, *sample_args, **sample_kwargs)
    if "params" not in variables:
      raise ValueError(f"{type(module).__name__} has no trainable parameters to generate.")
    weight_spec = spec_lib.spec_from_shapes(variables["params"], order)
    zeros = [jnp.zeros(a.shape, a.dtype) for a in sample_args]

    @jax.jit
    def init_all(rng):
      return module.init(rng, *zeros, **sample_kwargs)

    def state_fn():
      if not set(variables) - {"params"}:
        return {}
      # Concrete values even when first read inside a trace (the result is cached).
      with jax.ensure_compile_time_eval():
        return {k: v for k, v in init_all(jax.random.key(0)).items() if k != "params"}

    def apply_fn(weights, state, train, mutable, args, kwargs):
      if train is not None:
        kwargs = dict(kwargs, train=train)
      variables = {"params": weights, **state}
      if mutable or (train and state):
        # In training mode the module updates its statistics; keep them only if asked.
        out, updates = module.apply(variables, *args, mutable=list(state), **kwargs)
        return (out, dict(state, **updates)) if mutable else out
      return module.apply(variables, *args, **kwargs)

    return cls(spec=weight_spec, state_fn=state_fn, apply_fn=apply_fn,
               init_fn=lambda rng: init_all(rng)["params"],
               name=name or type(module).__name__,
               input_shape=tuple(sample_args[0].shape[1:]) if sample_args else None,
               takes_train="train" in sample_kwargs, uses_dropout=uses_dropout)

  @classmethod
  def from_nnx(cls, model: nnx.Module, name: str | None = None,
               input_shape: tuple[int, ...] | None = None) -> "Target":
    """Wraps an NNX module (an instance; its current values seed ``init_weights``).

    ``nnx.Param`` variables are the generated weights; every other variable
    (``BatchStat``, counters) is the non-trainable state. Layer indices follow the
    pytree order of the module's attributes. ``train=True/False`` switches the module
    with ``model.train()`` / ``model.eval()`` before the call.
    """
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)  # type: ignore[misc]
    template = jax.tree.map(jnp.asarray, params)
    initial = nnx.to_pure_dict(params)
    weight_spec = spec_lib.spec_from_shapes(initial)

    def apply_fn(weights, state, train, mutable, args, kwargs):
      filled = jax.tree.map(lambda x: x, template)
      nnx.replace_by_pure_dict(filled, weights)
      module = nnx.merge(graphdef, filled, state)
      if train is True:
        module.train()
      elif train is False:
        module.eval()
      out = module(*args, **kwargs)
      if mutable:
        return out, nnx.split(module, nnx.Param, ...)[2]
      return out

    def init_fn(rng):
      del rng  # An NNX instance carries its own initial values.
      return initial

    return cls(spec=weight_spec, state_fn=lambda: rest, apply_fn=apply_fn, init_fn=init_fn,
               name=name or type(model).__name__,
               input_shape=None if input_shape is None else tuple(input_shape))


def batch_statistics(target: Target, weights: Any, x: Any) -> Any:
  """The statistics one batch contributes to the non-trainable state (pure, jittable).

  Runs the target in training mode and recovers the batch statistic ``s`` from the
  moving-average update ``new = m * old + (1 - m) * s`` (Flax Linen and NNX BatchNorm):
  the momentum ``m`` is found exactly from two updates that start from 0 and from 1.
  """
  zeros = jax.tree.map(jnp.zeros_like, target.state)
  ones = jax.tree.map(jnp.ones_like, target.state)
  _, from_zero = target.apply(weights, x, state=zeros, train=True, mutable=True)
  _, from_one = target.apply(weights, x, state=ones, train=True, mutable=True)
  # from_zero = (1-m) s, from_one = m + (1-m) s  =>  1-m = 1 - (from_one - from_zero).
  return jax.tree.map(lambda z, o: z / (1.0 - (o - z)), from_zero, from_one)


@functools.lru_cache(maxsize=32)
def _jitted_batch_statistics(target: Target) -> Callable[[Any, Any], Any]:
  # Weights are an argument, not a closed-over constant: one compile per target and shape.
  return jax.jit(functools.partial(batch_statistics, target))


def calibrate_state(target: Target, weights: Any, batches: Iterable[Any]) -> Any:
  """Population statistics of the non-trainable state for one set of weights.

  Averages the per-batch statistics of :func:`batch_statistics` over ``batches`` (mean
  of batch means, mean of batch variances), as in "precise BatchNorm". For many
  conditions at once use :func:`calibrate_states` (one compiled call).

  Args:
    target: a target with state (e.g. a ResNet with BatchNorm).
    weights: generated weights for one condition.
    batches: iterable of input batches (each passed as the first positional input).

  Returns:
    A state pytree to pass as ``state=`` with ``train=False``.
  """
  if not target.has_state:
    raise ValueError(f"{target.name} has no non-trainable state to calibrate.")
  stats_fn = _jitted_batch_statistics(target)
  total, count = None, 0
  for x in batches:
    stats = stats_fn(weights, x)
    total = stats if total is None else jax.tree.map(jnp.add, total, stats)
    count += 1
  if count == 0:
    raise ValueError("calibrate_state needs at least one batch.")
  return jax.tree.map(lambda t: t / count, total)


@functools.lru_cache(maxsize=32)
def _jitted_calibrate_states(target: Target, chunk: int | None) -> Callable[[Any, Any], Any]:
  def one(weights, batches):
    stats = jax.lax.map(lambda x: batch_statistics(target, weights, x), batches)
    return jax.tree.map(lambda t: jnp.mean(t, 0), stats)

  def many(weights, batches):
    if chunk:
      return jax.lax.map(lambda w: one(w, batches), weights, batch_size=chunk)
    return jax.vmap(one, in_axes=(0, None))(weights, batches)

  return jax.jit(many)


def calibrate_states(target: Target, weights: Any, batches: Any, chunk: int | None = None) -> Any:
  """:func:`calibrate_state` for many weight sets at once, in one compiled call.

  Args:
    target: a target with state.
    weights: weight pytree whose leaves carry a leading axis (one set per condition,
      e.g. the hypernetwork's output for a batch of rays).
    batches: the calibration inputs, ``[num_batches, batch, ...]`` (or a list of batches).
    chunk: conditions computed together (``lax.map`` batch size) to bound memory; None
      means all at once (``vmap``).

  Returns:
    A state pytree whose leaves carry the same leading axis.
  """
  if not target.has_state:
    raise ValueError(f"{target.name} has no non-trainable state to calibrate.")
  batches = [np.asarray(b) for b in batches]
  if not batches:
    raise ValueError("calibrate_states needs at least one batch.")
  batches = jnp.asarray(np.stack(batches))
  return _jitted_calibrate_states(target, chunk)(weights, batches)
