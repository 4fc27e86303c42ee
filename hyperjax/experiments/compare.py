"""Families x seeds on one multi-task benchmark, gathered into one comparison table.

Used by ``python -m launch.compare``: every (family, seed) run has its own workdir
(resumable like any run; a finished one is read back, not retrained), and the table
reports hypernetwork size against mean test accuracy, mean +- std over seeds, plus the
new-task (few-shot) accuracies when the runs hold a task out.

Reference: Cubelier, "Sparse hypernetworks", MSc thesis, University of Liege, 2022
(accuracy against hypernetwork size; linear, MLP, chunked, sparse hypernetworks and
independent networks; new-task inference).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
from typing import Callable, Sequence

import ml_collections
import numpy as np


def load_config_module(path: str):
  """The config file at ``path`` as a module (with ``get_config(arg)``)."""
  if not os.path.isfile(path):
    raise FileNotFoundError(f"No config file {path!r}.")
  spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  if not hasattr(module, "get_config"):
    raise ValueError(f"{path} has no get_config(arg).")
  return module


def parse_overrides(overrides: Sequence[str]) -> dict:
  """``['num_steps=2000', 'data.idx_dir=/x']`` -> a flattened dict (Python literals or strings)."""
  parsed = {}
  for item in overrides:
    key, sep, value = item.partition("=")
    if not sep or not key:
      raise ValueError(f"Override {item!r} is not KEY=VALUE (e.g. num_steps=2000).")
    try:
      parsed[key] = ast.literal_eval(value)
    except (ValueError, SyntaxError):
      parsed[key] = value
  return parsed


def run_config(get_config: Callable[[str], ml_collections.ConfigDict], family: str,
               options: Sequence[str], seed: int, overrides: dict) -> ml_collections.ConfigDict:
  config = get_config(",".join([family, *options]))
  config.seed = seed
  try:
    config.update_from_flattened_dict(overrides)
  except (KeyError, AttributeError, TypeError) as e:
    raise ValueError(f"Bad override in {overrides}: {e}") from e
  return config


def _normalised(obj):
  return json.loads(json.dumps(obj))


def finished_results(workdir: str, config: ml_collections.ConfigDict) -> dict | None:
  """The run's results.json when it finished with this very config, else None.

  Raises ValueError when the workdir holds results of a different config (nothing is
  overwritten: choose another ``--workdir``).
  """
  path = os.path.join(workdir, "results.json")
  if not os.path.exists(path):
    return None
  with open(path) as f:
    results = json.load(f)
  if results.get("config") != _normalised(config.to_dict()):
    raise ValueError(f"{workdir} holds results of a different config; use another --workdir "
                     "or delete that run.")
  return results


def _mean_std(values) -> dict:
  values = np.asarray(values, np.float64)
  return {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
          "values": values.tolist()}


def summarize(results: dict[str, list[dict]]) -> list[dict]:
  """Per family: parameter counts, mean +- std test accuracy over seeds, new-task shots."""
  rows = []
  for family, runs in results.items():
    row = {"family": family, "seeds": [r["config"]["seed"] for r in runs],
           "hypernet_params": runs[0]["num_params"]["hypernet"],
           "target_params": runs[0]["num_params"]["target"],
           "compression": runs[0]["num_params"]["hypernet"] / (
               runs[0]["num_params"]["target"] * len(runs[0]["test_accuracies"])),
           "test_accuracy": _mean_std([r["test_accuracy"] for r in runs]),
           "per_task": np.mean([r["test_accuracies"] for r in runs], axis=0).tolist(),
           "wall_time_s": float(np.mean([r["wall_time_s"] for r in runs]))}
    if all("new_task" in r for r in runs):
      shots = sorted(runs[0]["new_task"]["test_accuracy"], key=int)  # JSON keys are strings
      row["new_task"] = {
          "task": runs[0]["new_task"]["task"],
          "at_init": _mean_std([r["new_task"]["accuracy_at_init"] for r in runs]),
          **{k: _mean_std([r["new_task"]["test_accuracy"][k] for r in runs]) for k in shots}}
    rows.append(row)
  return rows


def markdown_table(rows: list[dict], title: str = "") -> str:
  """The comparison as a Markdown table (accuracies in %)."""
  pct = lambda s: f"{100 * s['mean']:.2f} ± {100 * s['std']:.2f}"
  shots = [k for k in rows[0].get("new_task", {}) if k not in ("task", "at_init")]
  header = ["family", "hypernet params", "params / (T x target)", "mean test acc. (%)"]
  if shots:
    header += ["new task, embedding at init (%)"] + [f"new task, {k}-shot (%)" for k in shots]
  lines = ([f"**{title}**", ""] if title else []) + [
      "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for row in rows:
    cells = [row["family"], f"{row['hypernet_params']:,}", f"{row['compression']:.2f}",
             pct(row["test_accuracy"])]
    if shots:
      nt = row.get("new_task")
      cells += [pct(nt["at_init"]) if nt else "n/a"] + [pct(nt[k]) if nt else "n/a"
                                                        for k in shots]
    lines.append("| " + " | ".join(cells) + " |")
  seeds = rows[0]["seeds"]
  lines += ["", f"Mean ± std over seeds {', '.join(map(str, seeds))}."]
  return "\n".join(lines) + "\n"
