"""The training loop every experiment shares: resume, progress, evaluation, checkpoints.

An experiment supplies pure pieces (initial state, a compiled step, an evaluation);
:func:`run` owns the workdir contract of DESIGN.md: ``metrics.jsonl``, TensorBoard
events, Orbax checkpoints at each evaluation and on interrupt (Ctrl-C or SIGTERM),
exact resume from the latest checkpoint, and the final ``results.json``.
"""

from __future__ import annotations

import dataclasses
import signal
import sys
import time
from typing import Any, Callable, Mapping, Sequence

import jax
import ml_collections
import numpy as np
from absl import logging
from tqdm import tqdm

from hyperjax.training import checkpoint as ckpt_lib
from hyperjax.training import metrics as metrics_lib
from hyperjax.training.run_record import run_record
from hyperjax.training.workdir import lock_workdir, prepare_workdir


@dataclasses.dataclass
class Experiment:
  """What :func:`run` needs from an experiment.

  Attributes:
    init_state: ``() -> state`` (a pytree holding everything that changes in training).
    train_step: ``(state, step) -> (state, scalars)``; must be deterministic in
      ``(state, step)`` so that resumed runs replay exactly.
    evaluate: ``(state, step) -> scalars/arrays`` logged as kind ``'eval'``; an entry
      ``'images'`` maps TensorBoard tags to PNG files written for this evaluation (e.g.
      the front plot), shown in TensorBoard and not kept in ``metrics.jsonl``.
    summarize: ``(state, evaluations) -> results`` for ``results.json`` (``evaluations``
      is the list of all evaluation records, resumed runs included).
    num_steps: total training steps.
    eval_every: evaluate (and checkpoint) every this many steps, and at the end.
    log_every: log training scalars every this many steps.
    best_key: an evaluation scalar to maximise (model selection); the state with the
      best value is also kept under ``workdir/best``.
    description: the progress bar's label (say what its numbers are).
  """

  init_state: Callable[[], Any]
  train_step: Callable[[Any, int], tuple[Any, Mapping[str, Any]]]
  evaluate: Callable[[Any, int], Mapping[str, Any]]
  summarize: Callable[[Any, list[dict]], Mapping[str, Any]]
  num_steps: int
  eval_every: int
  log_every: int = 50
  best_key: str | None = None
  description: str = "train"


class Interrupted(Exception):
  """The run got SIGTERM; its checkpoint is saved. ``exit_code`` is the shell's 128 + 15."""

  exit_code = 128 + signal.SIGTERM


@jax.jit
def _all_finite(state: Any) -> jax.Array:
  leaves = [jax.numpy.all(jax.numpy.isfinite(x)) for x in jax.tree.leaves(state)
            if jax.numpy.issubdtype(jax.numpy.asarray(x).dtype, jax.numpy.inexact)]
  return jax.numpy.all(jax.numpy.stack(leaves)) if leaves else jax.numpy.bool_(True)


def _is_eval_step(experiment: Experiment, step: int) -> bool:
  return step % experiment.eval_every == 0 or step == experiment.num_steps


def _read_evaluations(path: str) -> list[dict]:
  import json  # pylint: disable=g-import-not-at-top
  try:
    with open(path) as f:
      return [r for r in map(json.loads, filter(str.strip, f)) if r.get("kind") == "eval"]
  except FileNotFoundError:
    return []


def _finished_results(workdir: str, num_steps: int) -> dict | None:
  """The saved results of a run in ``workdir`` that already trained ``num_steps`` steps."""
  import json  # pylint: disable=g-import-not-at-top
  import os  # pylint: disable=g-import-not-at-top
  path = os.path.join(workdir, "results.json")
  if not os.path.exists(path):
    return None
  try:
    with open(path) as f:
      results = json.load(f)
  except (OSError, ValueError):
    return None
  return results if results.get("num_steps") == num_steps else None


def _sync(name: str) -> None:
  """A barrier across processes (nothing with one process)."""
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    multihost_utils.sync_global_devices(name)


def run(experiment: Experiment, workdir: str, config: ml_collections.ConfigDict,
        structural_keys: Sequence[str], is_main_process: bool | None = None,
        progress_bar: bool = True) -> dict:
  """Trains, evaluates, checkpoints and writes results; resumes if ``workdir`` has a run.

  Call it once everything that can fail on a bad config or missing data has been
  built: the workdir is claimed here (see :func:`prepare_workdir`), not before.
  With ``progress_bar=False`` (notebooks, logs) only one line per evaluation is printed.
  """
  if experiment.num_steps < 1 or experiment.eval_every < 1:
    raise ValueError(f"num_steps and eval_every must be at least 1, got {experiment.num_steps} "
                     f"and {experiment.eval_every}.")
  if is_main_process is None:
    is_main_process = jax.process_index() == 0
  start = time.time()
  # Every process checks the workdir before process 0 writes to it.
  prepare_workdir(workdir, config, structural_keys, write=False)
  finished = _finished_results(workdir, experiment.num_steps)
  if finished is not None:
    print(f"{workdir} holds this run, finished at step {experiment.num_steps}; nothing to do "
          "(use a new --workdir, or more steps, to train further).")
    return finished
  _sync("workdir checked")
  lock = lock_workdir(workdir) if is_main_process else None
  try:
    return _train(experiment, workdir, config, structural_keys, is_main_process, progress_bar,
                  start)
  finally:
    if lock is not None:
      lock.close()


def _train(experiment: Experiment, workdir: str, config: ml_collections.ConfigDict,
           structural_keys: Sequence[str], is_main_process: bool, progress_bar: bool,
           start: float) -> dict:
  if is_main_process:
    prepare_workdir(workdir, config, structural_keys)
  _sync("workdir ready")
  checkpointer = ckpt_lib.Checkpointer(workdir)
  if is_main_process:
    checkpointer.remove_partial_saves()
  state = experiment.init_state()
  step = 0
  latest = checkpointer.latest_step()
  if latest is not None:
    state = checkpointer.restore(state, latest)
    step = latest
    print(f"Resuming from the checkpoint at step {step} in {workdir}.")
  record = run_record(config)
  writer = metrics_lib.MetricsWriter(workdir, resume_step=latest, enabled=is_main_process)
  writer.text("run", {"config": config.to_dict() if hasattr(config, "to_dict") else config,
                      **record}, step)
  best_checkpointer, best_value = None, -float("inf")
  previous = _read_evaluations(writer.path)
  if experiment.best_key:
    best_checkpointer = ckpt_lib.Checkpointer(workdir, max_to_keep=1, subdir="best")
    if is_main_process:
      best_checkpointer.remove_partial_saves()
    values = [e[experiment.best_key] for e in previous]
    best_value = max(values, default=-float("inf"))
    if values and previous[int(np.argmax(values))]["step"] == step \
        and best_checkpointer.latest_step() != step:
      best_checkpointer.save(step, state)  # interrupted between the evaluation and its save

  def check_finite(at: int) -> None:
    if not bool(_all_finite(state)):
      good = checkpointer.latest_step()
      where = (f"the last good checkpoint is step {good} in {checkpointer.directory}; rerun "
               "with a lower learning rate to resume from it" if good is not None else
               "no checkpoint was written; lower the learning rate")
      raise FloatingPointError(f"Non-finite parameters at step {at}, not saved: {where}.")

  def evaluate(at: int) -> None:
    nonlocal best_value
    check_finite(at)
    if is_main_process and progress_bar:
      progress.write(f"step {at}: evaluating ...")
    evaluation = dict(experiment.evaluate(state, at))
    for tag, path in evaluation.pop("images", {}).items():
      writer.image(tag, path, at)
    writer.write(at, "eval", evaluation)
    if best_checkpointer is not None and evaluation[experiment.best_key] > best_value:
      best_value = float(evaluation[experiment.best_key])
      best_checkpointer.save(at, state)
    if is_main_process:
      shown = {} if progress_bar else dict(running_means)  # no bar: train means here
      shown.update({k: float(v) for k, v in evaluation.items() if np.ndim(v) == 0})
      progress.write(f"step {at}: " + ", ".join(f"{k}={v:.4f}" for k, v in shown.items()))
    checkpointer.save(at, state)

  def on_sigterm(signum, frame):
    del signum, frame
    raise Interrupted()

  previous_handler = signal.signal(signal.SIGTERM, on_sigterm)
  progress = tqdm(total=experiment.num_steps, initial=step, dynamic_ncols=True,
                  disable=not (is_main_process and progress_bar), desc=experiment.description,
                  mininterval=1.0)
  running: dict[str, list[float]] = {}
  running_means: dict[str, float] = {}
  try:
    if latest is not None and _is_eval_step(experiment, step) \
        and step not in {e["step"] for e in previous}:
      evaluate(step)  # the run was interrupted during this evaluation: redo it
    while step < experiment.num_steps:
      state, scalars = experiment.train_step(state, step)
      step += 1
      for key, value in scalars.items():
        running.setdefault(key, []).append(value)
      if step % experiment.log_every == 0 or step == experiment.num_steps:
        means = {k: float(np.mean(jax.device_get(v))) for k, v in running.items()}
        if not all(np.isfinite(list(means.values()))):
          good = checkpointer.latest_step()
          raise FloatingPointError(
              f"Non-finite training scalars at step {step}: {means}. Lower the learning rate; "
              f"the last checkpoint (step {good}) is intact.")
        writer.write(step, "train", means)
        running_means = means
        progress.set_postfix({k: f"{v:.4f}" for k, v in means.items()})
        running = {}
      progress.update(1)
      if _is_eval_step(experiment, step):
        evaluate(step)
  except (KeyboardInterrupt, Interrupted):
    progress.close()
    saved = bool(_all_finite(state))
    if saved:
      checkpointer.save(step, state)
    checkpointer.close()
    if best_checkpointer is not None:
      best_checkpointer.close()
    writer.close()
    print(f"Interrupted at step {step}; " + ("checkpoint saved. Rerun the same command to resume."
                                             if saved else "its parameters were not finite and "
                                             "were not saved."), file=sys.stderr)
    raise
  finally:
    signal.signal(signal.SIGTERM, previous_handler)
    progress.close()
  checkpointer.close()
  if best_checkpointer is not None:
    best_checkpointer.close()
  writer.close()
  results = dict(experiment.summarize(state, _read_evaluations(writer.path)))
  results["wall_time_s"] = time.time() - start
  results["num_steps"] = experiment.num_steps
  results["run"] = record
  if is_main_process:
    import os  # pylint: disable=g-import-not-at-top
    metrics_lib.write_json(os.path.join(workdir, "results.json"), results)
  logging.info("Finished %d steps in %.1f s.", step, results["wall_time_s"])
  return results
