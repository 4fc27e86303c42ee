"""Optimizers named in configs, with their keyword arguments and a learning-rate schedule.

A config's optimizer block (big_vision style)::

  config.optimizer = dict(name="adam", learning_rate=1e-4, kwargs=dict(b1=0.9),
                          schedule=dict(name="exponential_decay",
                                        kwargs=dict(transition_steps=1, decay_rate=0.999)))

``name`` is any optax optimizer that takes ``learning_rate`` first (``adam``, ``adamw``,
``sgd``, ``lamb``, ...); the schedule is any optax schedule whose first argument is the
initial (or peak) value, which ``learning_rate`` fills; ``'constant'`` (default) keeps
the rate fixed.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, Mapping

import optax


def make_schedule(learning_rate: float, name: str = "constant", **kwargs: Any) -> Any:
  """``learning_rate`` (``'constant'``) or ``optax.<name>(learning_rate, **kwargs)``."""
  if name == "constant":
    if kwargs:
      raise ValueError(f"The constant schedule takes no options, got {sorted(kwargs)}.")
    return learning_rate
  fn = getattr(optax, name, None) or getattr(optax.schedules, name, None)
  if not callable(fn):
    raise ValueError(f"Unknown learning-rate schedule {name!r}: use 'constant' or an optax "
                     "schedule such as 'exponential_decay', 'cosine_decay_schedule', "
                     "'warmup_cosine_decay_schedule'.")
  params = list(inspect.signature(fn).parameters)
  first = next((p for p in params if p in ("init_value", "peak_value", "value")), None)
  if first is None:
    raise ValueError(f"Schedule {name!r} has no initial value argument to set from "
                     "learning_rate.")
  try:
    return fn(**{first: learning_rate}, **kwargs)
  except TypeError as e:
    raise ValueError(f"Schedule {name!r}: {e}.") from None


def make_optimizer(name: str = "adam", learning_rate: float = 1e-3,
                   schedule: Mapping[str, Any] | None = None,
                   **kwargs: Any) -> optax.GradientTransformation:
  """``optax.<name>(schedule, **kwargs)``, refusing bad names and rates in one clear line.

  Args:
    name: an optax optimizer whose first argument is ``learning_rate``.
    learning_rate: a positive finite number (the schedule's initial value).
    schedule: ``{'name': ..., 'kwargs': {...}}`` (see :func:`make_schedule`).
    **kwargs: the optimizer's other arguments (``b1``, ``weight_decay``, ``momentum``...).
  """
  if not (isinstance(learning_rate, (int, float)) and math.isfinite(learning_rate)
          and learning_rate > 0):
    raise ValueError(f"optimizer.learning_rate must be a positive finite number, got "
                     f"{learning_rate}.")
  fn = getattr(optax, name, None)
  if not callable(fn) or "learning_rate" not in inspect.signature(fn).parameters:
    raise ValueError(f"Unknown optimizer {name!r}: use an optax optimizer that takes a "
                     "learning_rate, e.g. 'adam', 'adamw', 'sgd', 'lamb'.")
  schedule = dict(schedule or {})
  lr = make_schedule(learning_rate, schedule.get("name", "constant"),
                     **dict(schedule.get("kwargs") or {}))
  try:
    return fn(lr, **kwargs)
  except TypeError as e:
    raise ValueError(f"Optimizer {name!r}: {e}.") from None
