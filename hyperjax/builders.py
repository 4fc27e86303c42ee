"""Builders: config blocks -> a target, a hypernetwork, an optimizer, a solver.

Every experiment (and the inference API and the benchmarks) builds its pieces here, from
the blocks of its config, so that a block means the same thing everywhere:

  target     {'name': 'phn_lenet' | 'pkg.module:Class', 'kwargs': {...}, 'input_shape': ...}
  hypernet   {'family': 'mlp' | 'pkg.module:Class', 'kwargs': {...},
              'conditioner': {...}, 'init': 'hyperfan_in', 'init_scale': 2.0}
  optimizer  {'name': 'adam', 'learning_rate': 1e-4, 'kwargs': {...}, 'schedule': {...}}
  solver     {'name': 'epo', 'kwargs': {'eps': 1e-4}}
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import optax

from hyperjax.hypernets import Conditioner, init_hypernet, make_hypernet
from hyperjax.hypernets.factory import as_kwargs
from hyperjax.pareto import solvers
from hyperjax.target import Target
from hyperjax.targets import make_target, target_entry
from hyperjax.training.optimizers import make_optimizer


def as_dict(block: Any) -> Any:
  """A ConfigDict block as a plain dict (other values as they are)."""
  return block.to_dict() if hasattr(block, "to_dict") else block


def _get(block: Mapping[str, Any] | None, key: str, default: Any = None) -> Any:
  if block is None:
    return default
  value = block.get(key, default)
  return default if value is None else value


def build_target(block: Mapping[str, Any], input_shape: tuple[int, ...] | None = None,
                 num_outputs: int | None = None, **extra: Any) -> Target:
  """The target of a ``target`` block.

  Args:
    block: ``name`` (registered or ``'pkg.module:Class'``), ``kwargs``, and optionally
      ``input_shape`` (one example's shape; overrides ``input_shape``).
    input_shape: the data's example shape (default: the target's registered one).
    num_outputs: outputs per head, passed as the target's own keyword for it
      (``num_classes`` for the zoo's classifiers, ``num_outputs`` for the MLP).
    **extra: more module arguments the experiment sets (e.g. ``num_tasks``).
  """
  name = block["name"]
  kwargs = dict(as_kwargs(_get(block, "kwargs")), **extra)
  if num_outputs is not None:
    kwargs[target_entry(name).output_kwarg] = num_outputs
  shape = _get(block, "input_shape") or input_shape
  return make_target(name, input_shape=None if shape is None else tuple(shape), **kwargs)


def build_hypernet(block: Mapping[str, Any], target: Target, sample_conditions: Any, seed: int,
                   conditioner: Mapping[str, Any] | None = None) -> tuple[Any, Any]:
  """``(hnet, variables)``: the ``hypernet`` block's family for ``target``, initialised.

  Args:
    block: ``family``, ``kwargs``, ``conditioner`` (its attributes), ``init``
      (``'default'``, ``'hyperfan_in'``, ``'hyperfan_out'``), ``init_scale`` and
      ``init_bias_variance`` (hyperfan: the generated biases' variance; None: the paper's rule).
    target: the target whose weights it generates.
    sample_conditions: conditions ``[n, ...]`` for hyperfan init (rays, task ids).
    seed: the initialisation seed.
    conditioner: conditioner attributes the experiment fixes (e.g. the number of
      task embeddings), merged under the block's own.
  """
  cond = dict(conditioner or {}, **as_kwargs(_get(block, "conditioner")))
  hnet = make_hypernet(block["family"], target.spec, Conditioner(**cond) if cond else None,
                       **as_kwargs(_get(block, "kwargs")))
  return init_hypernet(hnet, jax.random.key(seed), sample_conditions,
                       _get(block, "init", "default"), _get(block, "init_scale", 1.0),
                       _get(block, "init_bias_variance"))


def build_optimizer(block: Mapping[str, Any]) -> optax.GradientTransformation:
  """The optax optimizer of an ``optimizer`` block (:mod:`hyperjax.training.optimizers`)."""
  block = as_dict(block)
  if not isinstance(block, Mapping) or "name" not in block:
    raise ValueError("The config's optimizer block needs a name, e.g. "
                     "optimizer=dict(name='adam', learning_rate=1e-4).")
  return make_optimizer(block["name"], _get(block, "learning_rate", 1e-3),
                        _get(block, "schedule"), **as_kwargs(_get(block, "kwargs")))


def build_solver(block: Mapping[str, Any] | str) -> solvers.Solver:
  """The :class:`~hyperjax.pareto.solvers.Solver` of a ``solver`` block (or bare name)."""
  if isinstance(block, str):
    return solvers.make_solver(block)
  return solvers.make_solver(block["name"], **as_kwargs(_get(block, "kwargs")))
