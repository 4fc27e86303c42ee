"""Targets by name: the built-in zoo, names users register, and import paths.

``make_target('phn_lenet')`` builds a registered target; ``make_target('mypkg.models:TwoHeadNet',
input_shape=(8,), width=64)`` imports the user's own Flax module (Linen or NNX class, or
a function returning a module or a :class:`~hyperjax.target.Target`) with no
registration at all, so a config can name it (``--config.target.name=mypkg.models:TwoHeadNet``)
and a trained run loads back in a fresh process. :func:`register_target` gives a module a
short name together with what experiments need to know about it.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax import nnx

from hyperjax.target import Target


@dataclasses.dataclass(frozen=True)
class TargetEntry:
  """What experiments need to know about a registered target.

  Attributes:
    factory: ``(**kwargs) -> module`` (a Linen or NNX module, or a :class:`Target`).
    input_shape: the shape of one input example (without the batch axis).
    takes_train: the module's ``__call__`` takes ``train=`` (BatchNorm or dropout).
    uses_dropout: training needs a ``'dropout'`` rng.
    output_kwarg: the keyword that sets its number of outputs per head (e.g. classes).
  """

  factory: Callable[..., Any]
  input_shape: tuple[int, ...] | None = None
  takes_train: bool = False
  uses_dropout: bool = False
  output_kwarg: str = "num_classes"


_REGISTRY: dict[str, TargetEntry] = {}


def register_target(name: str, factory: Callable[..., Any], *,
                    input_shape: tuple[int, ...] | None = None, takes_train: bool = False,
                    uses_dropout: bool = False, output_kwarg: str = "num_classes",
                    overwrite: bool = False) -> None:
  """Registers ``factory`` under the short ``name`` (for configs: ``target.name=NAME``).

  Raises:
    ValueError: if ``name`` is taken (pass ``overwrite=True`` to replace it) or looks
      like an import path.
  """
  if ":" in name or not name:
    raise ValueError(f"Target names are short identifiers, got {name!r} (import paths "
                     "'pkg.module:Name' need no registration).")
  if name in _REGISTRY and not overwrite:
    raise ValueError(f"A target named {name!r} is already registered; pass overwrite=True to "
                     "replace it.")
  _REGISTRY[name] = TargetEntry(factory, None if input_shape is None else tuple(input_shape),
                                takes_train, uses_dropout, output_kwarg)


def target_names() -> tuple[str, ...]:
  """The registered target names, sorted."""
  return tuple(sorted(_REGISTRY))


def import_object(path: str, what: str = "target") -> Any:
  """``'pkg.module:Name'`` (or ``'pkg.module.Name'``) -> the object it names."""
  module_name, sep, attr = path.partition(":")
  if not sep:
    module_name, _, attr = path.rpartition(".")
  if not module_name or not attr:
    raise ValueError(f"Cannot read {what} path {path!r}: write 'package.module:Name'.")
  try:
    module = importlib.import_module(module_name)
  except ImportError as e:
    raise ValueError(f"Cannot import module {module_name!r} for {what} {path!r}: {e}. Put it "
                     "on PYTHONPATH (or install it) and check the spelling.") from None
  obj = module
  for part in attr.split("."):
    if not hasattr(obj, part):
      raise ValueError(f"Module {module_name!r} has no {part!r} (from {what} {path!r}).")
    obj = getattr(obj, part)
  return obj


def takes_train_arg(cls: Any) -> bool:
  """Whether a Linen module class's ``__call__`` takes ``train=`` (BatchNorm, dropout)."""
  return (inspect.isclass(cls) and issubclass(cls, nn.Module)
          and "train" in inspect.signature(cls.__call__).parameters)


def target_entry(name: str) -> TargetEntry:
  """The entry of a registered name, or of an import path (inspected: takes ``train=``?)."""
  if name in _REGISTRY:
    return _REGISTRY[name]
  if ":" not in name:
    raise ValueError(f"Unknown target {name!r}; choose one of {', '.join(target_names())}, or "
                     "name your own module by import path, e.g. 'mypkg.models:TwoHeadNet'.")
  factory = import_object(name)
  return TargetEntry(factory, getattr(factory, "input_shape", None), takes_train_arg(factory),
                     bool(getattr(factory, "uses_dropout", False)),
                     getattr(factory, "output_kwarg", "num_classes"))


def make_target(name: str, input_shape: tuple[int, ...] | None = None, **kwargs: Any) -> Target:
  """Builds a :class:`Target` by registered name or import path.

  Args:
    name: a registered name (:func:`target_names`) or ``'pkg.module:Name'``.
    input_shape: the shape of one input example (default: the registered one). Linen
      modules need it; NNX modules are built eagerly and do not.
    **kwargs: the module's attributes / the factory's arguments (NNX classes also get
      ``rngs=nnx.Rngs(0)`` unless given).

  Returns:
    The :class:`Target`, with ``input_shape``, ``takes_train`` and ``uses_dropout`` set.
  """
  entry = target_entry(name)
  factory = entry.factory
  if inspect.isclass(factory) and issubclass(factory, nnx.Module) and "rngs" not in kwargs:
    kwargs = dict(kwargs, rngs=nnx.Rngs(0))
  try:
    module = factory(**kwargs)
  except TypeError as e:
    raise ValueError(f"Cannot build target {name!r} with {sorted(kwargs)}: {e}.") from None
  shape = tuple(input_shape) if input_shape is not None else entry.input_shape
  if isinstance(module, Target):
    return dataclasses.replace(module, name=name)
  if isinstance(module, nnx.Module):
    return dataclasses.replace(Target.from_nnx(module, name=name, input_shape=shape),
                               uses_dropout=entry.uses_dropout)
  if not isinstance(module, nn.Module):
    raise ValueError(f"Target {name!r} built a {type(module).__name__}, not a Flax Linen or NNX "
                     "module (or a hyperjax.Target).")
  if shape is None:
    raise ValueError(f"Target {name!r} is a Linen module: give the shape of one input example "
                     "(input_shape=..., in a config target.input_shape).")
  sample = jax.ShapeDtypeStruct((1, *shape), jnp.float32)
  extra = {"train": False} if entry.takes_train else {}
  return Target.from_linen(module, sample, name=name, uses_dropout=entry.uses_dropout, **extra)
