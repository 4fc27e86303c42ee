"""Workdirs: one experiment per directory, refused before anything is overwritten."""

from __future__ import annotations

import json
import os
from typing import Sequence

import ml_collections


class WorkdirError(ValueError):
  """The workdir belongs to another experiment or configuration."""


def prepare_workdir(workdir: str, config: ml_collections.ConfigDict,
                    structural_keys: Sequence[str], write: bool = True) -> None:
  """Creates ``workdir`` or checks that it holds a run of the same experiment.

  The first run writes ``workdir/config.json``. A later run in the same directory
  resumes only when the experiment and every ``structural_keys`` entry (those that
  change the shapes of the checkpointed state) are unchanged; otherwise it stops with
  a message and touches nothing. With ``write=False`` it only checks (the processes
  of a multi-process run other than process 0).
  """
  path = os.path.join(workdir, "config.json")
  current = json.loads(config.to_json_best_effort())
  if os.path.exists(path):
    with open(path) as f:
      saved = json.load(f)
    diffs = [k for k in ("experiment", *structural_keys) if _get(saved, k) != _get(current, k)]
    if diffs:
      details = "; ".join(f"{k}: {_get(saved, k)!r} there, {_get(current, k)!r} now" for k in diffs)
      raise WorkdirError(f"{workdir} holds a checkpoint of a different run ({details}). Use a new "
                         "--workdir, or rerun with the original config to resume.")
    return
  if os.path.isdir(workdir) and os.listdir(workdir):
    raise WorkdirError(f"{workdir} is not empty and holds no hyperjax run (no config.json); "
                       "choose an empty or new --workdir.")
  if not write:
    return
  os.makedirs(workdir, exist_ok=True)
  with open(path, "w") as f:
    json.dump(current, f, indent=2, sort_keys=True)


def _get(tree: dict, dotted: str):
  for part in dotted.split("."):
    if not isinstance(tree, dict) or part not in tree:
      return None
    tree = tree[part]
  return tree
