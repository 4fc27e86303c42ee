"""Build a hypernetwork family by name, as configs do."""

from __future__ import annotations

from typing import Any, Mapping

from hyperjax.hypernets.chunked import ChunkedHypernet
from hyperjax.hypernets.conditioning import Conditioner
from hyperjax.hypernets.independent import IndependentNetworks
from hyperjax.hypernets.mlp import LinearHypernet, MLPHypernet
from hyperjax.hypernets.sparse import SparseHypernet
from hyperjax.spec import WeightSpec

FAMILIES = {"mlp": MLPHypernet, "linear": LinearHypernet, "chunked": ChunkedHypernet,
            "sparse": SparseHypernet, "independent": IndependentNetworks}


def register_family(name: str, cls: type, overwrite: bool = False) -> None:
  """Registers a hypernetwork family (a Flax module class with ``spec`` and
  ``conditioner`` fields) under ``name`` for configs' ``hypernet.family``."""
  if name in FAMILIES and not overwrite:
    raise ValueError(f"A hypernetwork family named {name!r} is already registered; pass "
                     "overwrite=True to replace it.")
  FAMILIES[name] = cls


def make_hypernet(family: str, spec: WeightSpec, conditioner: Conditioner | None = None,
                  **kwargs: Any) -> Any:
  """``make_hypernet('mlp', spec, hidden=(100, 100, 100))`` -> an unbound Flax module.

  Args:
    family: ``'mlp'``, ``'linear'``, ``'chunked'``, ``'sparse'`` or ``'independent'``
      (one network per task, the no-sharing baseline), a name given to
      :func:`register_family`, or an import path ``'pkg.module:Class'``.
    spec: the target's weight spec.
    conditioner: how conditions are embedded (family default when None).
    **kwargs: the family's attributes (tuples may be given as lists).
  """
  cls: Any
  if family in FAMILIES:
    cls = FAMILIES[family]
  elif ":" in family:
    from hyperjax.targets.registry import import_object  # pylint: disable=g-import-not-at-top
    cls = import_object(family, "hypernetwork family")
  else:
    raise ValueError(f"Unknown hypernetwork family {family!r}; choose one of "
                     f"{', '.join(sorted(FAMILIES))}, or name your own by import path "
                     "('pkg.module:Class').")
  fields = set(cls.__dataclass_fields__) - {"parent", "name", "spec", "conditioner"}
  unknown = set(kwargs) - fields
  if unknown:
    raise ValueError(f"{cls.__name__} has no option(s) {sorted(unknown)}; it takes "
                     f"{sorted(fields)}.")
  kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}
  return cls(spec=spec, conditioner=conditioner, **kwargs)


def as_kwargs(config: Mapping[str, Any] | None) -> dict:
  """A ConfigDict / mapping -> plain kwargs (None -> {})."""
  if config is None:
    return {}
  return {k: (tuple(v) if isinstance(v, list) else v) for k, v in dict(config).items()}
