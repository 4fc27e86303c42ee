"""Checkpoints with Orbax: the one place hyperjax talks to ``orbax.checkpoint``.

A :class:`Checkpointer` saves a train-state pytree at chosen steps
(``StandardSave``) and restores the latest one against an abstract target
(``StandardRestore`` with ``jax.ShapeDtypeStruct`` leaves, so shapes, dtypes and
shardings come from the caller, never from the files).
"""

from __future__ import annotations

import glob
import os
import shutil
from typing import Any

import jax
import orbax.checkpoint as ocp

from hyperjax.training.workdir import WorkdirError


def _first_line(error: BaseException) -> str:
  lines = [l.strip() for l in str(error).splitlines() if l.strip()]
  return f"{type(error).__name__}: {lines[0] if lines else ''}"[:300]


class Checkpointer:
  """Saves and restores train states under ``workdir/<subdir>`` (default ``checkpoints``)."""

  def __init__(self, workdir: str, max_to_keep: int = 3, subdir: str = "checkpoints"):
    self.directory = os.path.abspath(os.path.join(workdir, subdir))
    try:
      self._manager = ocp.CheckpointManager(
          self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep,
                                                               create=True))
    except OSError as e:
      raise WorkdirError(f"Cannot use {self.directory} ({e.strerror or e}); choose a writable "
                         "--workdir.") from None

  def remove_partial_saves(self) -> None:
    """Removes the temporary folders a killed or failed save left behind (never a finished
    step). Only the run that holds the workdir's lock may call it."""
    if jax.process_index() == 0:
      for partial in glob.glob(os.path.join(self.directory, "*.orbax-checkpoint-tmp*")):
        shutil.rmtree(partial, ignore_errors=True)

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state: Any, wait: bool = True) -> None:
    """Saves ``state`` as step ``step`` (a no-op when that step is already saved)."""
    if step in self._manager.all_steps():
      return
    try:
      self._manager.save(step, args=ocp.args.StandardSave(state))
      if wait:
        self._manager.wait_until_finished()
    except Exception as e:  # pylint: disable=broad-except  (disk full, permissions, ...)
      self.remove_partial_saves()
      previous = [s for s in self._manager.all_steps() if s != step]
      kept = f"step {max(previous)} is intact" if previous else "there is no earlier checkpoint"
      raise WorkdirError(f"Could not write the checkpoint of step {step} in {self.directory} "
                         f"({_first_line(e)}); {kept}. Free space or fix permissions, then "
                         "rerun the same command to resume.") from None

  def restore(self, abstract_state: Any, step: int | None = None) -> Any:
    """Restores ``step`` (default: the latest) into the structure of ``abstract_state``
    (None: the saved structure as it is, e.g. to read only the parameters)."""
    step = self.latest_step() if step is None else step
    if step is None:
      raise FileNotFoundError(f"No checkpoint in {self.directory}.")
    try:
      if abstract_state is None:
        return self._manager.restore(step, args=ocp.args.StandardRestore())
      abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, abstract_state)
      return self._manager.restore(step, args=ocp.args.StandardRestore(abstract))
    except Exception as e:  # pylint: disable=broad-except  (corrupt, truncated, incomplete)
      earlier = [s for s in self._manager.all_steps() if s < step]
      option = (f"delete {os.path.join(self.directory, str(step))} to resume from step "
                f"{max(earlier)}" if earlier else "use a new --workdir")
      raise WorkdirError(f"The checkpoint {os.path.join(self.directory, str(step))} cannot be "
                         f"restored ({_first_line(e)}); {option}.") from None

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()
