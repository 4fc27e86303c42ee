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


def make_hypernet(family: str, spec: WeightSpec, conditioner: Conditioner | None = None,
                  **kwargs: Any) -> Any:
  """``make_hypernet('mlp', spec, hidden=(100, 100, 100))`` -> an unbound Flax module.

  Args:
    family: ``'mlp'``, ``'linear'``, ``'chunked'``, ``'sparse'`` or ``'independent'``
      (one network per task, the no-sharing baseline).
    spec: the target's weight spec.
    conditioner: how conditions are embedded (family default when None).
    **kwargs: the family's attributes (tuples may be given as lists).
  """
  if family not in FAMILIES:
    raise ValueError(f"Unknown hypernetwork family {family!r}; choose one of "
                     f"{', '.join(sorted(FAMILIES))}.")
  cls = FAMILIES[family]
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
