"""Experiments launchable with ``python -m launch.train --config=...``.

Each experiment module exposes ``train_and_evaluate(config, workdir) -> results`` and
``STRUCTURAL_KEYS`` (config entries that change the checkpointed state's shapes).
"""

from __future__ import annotations

import importlib

EXPERIMENTS = {
    "fixed_preferences": "hyperjax.experiments.fixed_preferences",
    "multitask": "hyperjax.experiments.multitask",
    "pareto": "hyperjax.experiments.pareto",
    "single_task": "hyperjax.experiments.single_task",
    "static": "hyperjax.experiments.static",
    "synthetic": "hyperjax.experiments.synthetic",
}


def get_experiment(name: str):
  """The experiment module registered under ``name``."""
  if name not in EXPERIMENTS:
    raise ValueError(f"Unknown experiment {name!r}; choose one of {', '.join(sorted(EXPERIMENTS))}.")
  return importlib.import_module(EXPERIMENTS[name])
