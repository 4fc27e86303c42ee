"""Workdirs: one experiment per directory, refused before anything is overwritten."""

from __future__ import annotations

import fcntl
import json
import os
import socket
from typing import IO, Sequence

import ml_collections


LOCK_FILE = ".lock"


class WorkdirError(ValueError):
  """The workdir belongs to another experiment or configuration, or cannot be used."""


def lock_workdir(workdir: str) -> IO[str]:
  """Claims ``workdir`` for this process: one run per workdir.

  An exclusive ``flock`` on ``workdir/.lock``, held until the returned file is closed. The
  operating system releases it when the process ends, however it ends, so the lock of a
  killed run is never stale; the file keeps the holder's host and pid for the message.

  Raises:
    WorkdirError: another live run holds the workdir, or it cannot be written.
  """
  path = os.path.join(workdir, LOCK_FILE)
  try:
    os.makedirs(workdir, exist_ok=True)
    handle = open(path, "a+")
  except OSError as e:
    raise WorkdirError(f"Cannot write to --workdir {workdir}: {e.strerror}; choose a writable "
                       "directory.") from None
  try:
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except OSError:
    handle.seek(0)
    holder = handle.read().strip() or "another process"
    handle.close()
    raise WorkdirError(f"{workdir} is in use by another run ({holder}); wait for it to finish "
                       "or choose another --workdir.") from None
  handle.seek(0)
  handle.truncate()
  handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
  handle.flush()
  return handle


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
    try:
      with open(path) as f:
        saved = json.load(f)
    except (OSError, ValueError) as e:
      raise WorkdirError(f"{path} cannot be read ({e}); restore it, or use a new "
                         "--workdir.") from None
    diffs = [k for k in ("experiment", *structural_keys) if _get(saved, k) != _get(current, k)]
    if diffs:
      details = "; ".join(f"{k}: {_get(saved, k)!r} there, {_get(current, k)!r} now" for k in diffs)
      raise WorkdirError(f"{workdir} holds a checkpoint of a different run ({details}). Use a new "
                         "--workdir, or rerun with the original config to resume.")
    return
  if os.path.isdir(workdir) and set(os.listdir(workdir)) - {LOCK_FILE}:
    raise WorkdirError(f"{workdir} is not empty and holds no hyperjax run (no config.json); "
                       "choose an empty or new --workdir.")
  if not write:
    return
  try:
    os.makedirs(workdir, exist_ok=True)
    with open(path, "w") as f:
      json.dump(current, f, indent=2, sort_keys=True)
  except OSError as e:
    raise WorkdirError(f"Cannot write {path}: {e.strerror}; choose a writable --workdir.") from None


def _get(tree: dict, dotted: str):
  for part in dotted.split("."):
    if not isinstance(tree, dict) or part not in tree:
      return None
    tree = tree[part]
  return tree
