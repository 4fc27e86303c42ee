"""Shared pieces of the configs: the ``:ARG`` parser and the blocks several configs use.

Every config file is ``get_config(arg)`` returning an ``ml_collections.ConfigDict`` whose
values are written out in that file; this module only holds what would otherwise be
repeated word for word (big_vision style).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import ml_collections


def parse_arg(arg: str | None, groups: Mapping[str, Iterable[str]],
              flags: Iterable[str] = ()) -> dict[str, Any]:
  """``'epo,tiny'`` -> ``{'solver': 'epo', 'size': 'tiny', ...}``.

  Args:
    arg: the comma-separated text after ``:`` in ``--config=configs/NAME.py:ARG``.
    groups: group name -> its allowed values (at most one value of each group; a group
      not named in ``arg`` maps to None).
    flags: stand-alone options; each maps to True when present, else False.

  Raises:
    ValueError: an unknown value, or two values of one group, in one line that lists
      what the config accepts.
  """
  groups = {k: tuple(v) for k, v in groups.items()}
  flags = tuple(flags)
  chosen: dict[str, Any] = {k: None for k in groups}
  chosen.update({f: False for f in flags})
  accepted = "; ".join([f"{k}: {', '.join(v)}" for k, v in groups.items()]
                       + ([f"options: {', '.join(flags)}"] if flags else []))
  for part in filter(None, (p.strip() for p in (arg or "").split(","))):
    if part in flags:
      chosen[part] = True
      continue
    group = next((k for k, v in groups.items() if part in v), None)
    if group is None:
      raise ValueError(f"Unknown config argument {part!r}; this config takes ({accepted}), "
                       "comma-separated.")
    if chosen[group] is not None:
      raise ValueError(f"Choose one {group}, got {chosen[group]!r} and {part!r}.")
    chosen[group] = part
  return chosen


def data_block(name: str, **overrides: Any) -> ml_collections.ConfigDict:
  """The ``config.data`` block (sources: hyperjax.data; tfds, IDX, pickle, embedded)."""
  data = ml_collections.ConfigDict()
  data.name = name
  data.source = "auto"  # auto | tfds | idx | pickle | embedded
  data.allow_embedded = False  # auto may fall back to the embedded sample (quick configs)
  data.idx_dir = ml_collections.FieldReference(None, field_type=str)
  data.tfds_data_dir = ml_collections.FieldReference(None, field_type=str)
  data.tfds_download = False
  data.pickle_path = ml_collections.FieldReference(None, field_type=str)
  data.cache_dir = ml_collections.FieldReference(None, field_type=str)
  data.seed = 42  # generation seed of the Multi-MNIST family
  data.num_train = 120_000
  data.num_test = 20_000
  data.val_fraction = 0.1
  data.update(overrides)
  return data


def optimizer_block(name: str = "adam", learning_rate: float = 1e-3, schedule: str = "constant",
                    schedule_kwargs: Mapping[str, Any] | None = None,
                    **kwargs: Any) -> ml_collections.ConfigDict:
  """``config.optimizer``: an optax optimizer by name, its kwargs and a schedule."""
  return ml_collections.ConfigDict({
      "name": name, "learning_rate": learning_rate, "kwargs": dict(kwargs),
      "schedule": {"name": schedule, "kwargs": dict(schedule_kwargs or {})}})


def block(name_key: str, name: str, **kwargs: Any) -> ml_collections.ConfigDict:
  """``{name_key: name, 'kwargs': kwargs}``: a target, solver or family block."""
  return ml_collections.ConfigDict({name_key: name, "kwargs": dict(kwargs)})
