"""Checkpoints with Orbax: the one place hyperjax talks to ``orbax.checkpoint``.

A :class:`Checkpointer` saves a train-state pytree at chosen steps
(``StandardSave``) and restores the latest one against an abstract target
(``StandardRestore`` with ``jax.ShapeDtypeStruct`` leaves, so shapes, dtypes and
shardings come from the caller, never from the files).
"""

from __future__ import annotations

import os
from typing import Any

import jax
import orbax.checkpoint as ocp


class Checkpointer:
  """Saves and restores train states under ``workdir/<subdir>`` (default ``checkpoints``)."""

  def __init__(self, workdir: str, max_to_keep: int = 3, subdir: str = "checkpoints"):
    self.directory = os.path.abspath(os.path.join(workdir, subdir))
    self._manager = ocp.CheckpointManager(
        self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True))

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def save(self, step: int, state: Any, wait: bool = True) -> None:
    """Saves ``state`` as step ``step`` (a no-op when that step is already saved)."""
    if step in self._manager.all_steps():
      return
    self._manager.save(step, args=ocp.args.StandardSave(state))
    if wait:
      self._manager.wait_until_finished()

  def restore(self, abstract_state: Any, step: int | None = None) -> Any:
    """Restores ``step`` (default: the latest) into the structure of ``abstract_state``
    (None: the saved structure as it is, e.g. to read only the parameters)."""
    step = self.latest_step() if step is None else step
    if step is None:
      raise FileNotFoundError(f"No checkpoint in {self.directory}.")
    if abstract_state is None:
      return self._manager.restore(step, args=ocp.args.StandardRestore())
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, abstract_state)
    return self._manager.restore(step, args=ocp.args.StandardRestore(abstract))

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()
