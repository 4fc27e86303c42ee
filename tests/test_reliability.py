"""Failures a user can cause: one clear error, nothing on disk made worse, exact resume.

The training-loop cases run :func:`hyperjax.training.loop.run` on a small deterministic
experiment (a few parameters, a few steps), so each case takes a second; the data and CLI
cases use the real files and the real launcher.
"""

import errno
import glob
import json
import os
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from hyperjax.data import idx as idx_lib
from hyperjax.data import multi_mnist
from hyperjax.data.idx import DataError
from hyperjax.training import checkpoint as ckpt_lib
from hyperjax.training import loop
from hyperjax.training.workdir import WorkdirError, lock_workdir

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def toy_experiment(num_steps=20, eval_every=5, nan_at=None, interrupt_eval_at=None,
                   interrupt_step_at=None, log_every=5):
  """``w`` follows a fixed recurrence; the evaluation scores it; optionally the state turns
  non-finite at step ``nan_at``, or the evaluation at ``interrupt_eval_at`` or the training
  step ``interrupt_step_at`` is interrupted (once)."""
  interrupted = []

  def train_step(state, step):
    if step == interrupt_step_at:
      raise KeyboardInterrupt
    w = state["w"] * 0.9 + jnp.sin(step + 1.0)
    if nan_at is not None and step + 1 >= nan_at:
      w = w * jnp.nan
    return {"w": w}, {"loss": jnp.sum(w ** 2)}

  def evaluate(state, step):
    if step == interrupt_eval_at and not interrupted:
      interrupted.append(step)
      raise KeyboardInterrupt
    return {"score": float(-jnp.sum((state["w"] - 1.0) ** 2))}

  def summarize(state, evaluations):
    return {"w": np.asarray(state["w"]).tolist(), "scores": [e["score"] for e in evaluations]}

  return loop.Experiment(init_state=lambda: {"w": jnp.zeros(3)}, train_step=train_step,
                         evaluate=evaluate, summarize=summarize, num_steps=num_steps,
                         eval_every=eval_every, log_every=log_every, best_key="score")


CONFIG = ml_collections.ConfigDict({"experiment": "toy", "seed": 0})


def run(experiment, workdir):
  return loop.run(experiment, str(workdir), CONFIG, (), progress_bar=False)


def evaluations(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [r for r in map(json.loads, f) if r["kind"] == "eval"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("whole")
  return workdir, run(toy_experiment(), workdir)


def test_interrupt_during_an_evaluation_redoes_it_on_resume(uninterrupted, tmp_path):
  whole, results = uninterrupted
  with pytest.raises(KeyboardInterrupt):
    run(toy_experiment(interrupt_eval_at=10), tmp_path)
  assert [e["step"] for e in evaluations(tmp_path)] == [5]
  resumed = run(toy_experiment(), tmp_path)
  assert resumed["scores"] == results["scores"] and resumed["w"] == results["w"]
  assert [e["step"] for e in evaluations(tmp_path)] == [e["step"] for e in evaluations(whole)]
  best = ckpt_lib.Checkpointer(str(tmp_path), subdir="best")
  assert best.latest_step() == ckpt_lib.Checkpointer(str(whole), subdir="best").latest_step()


def test_non_finite_parameters_never_reach_a_checkpoint(tmp_path):
  # Training scalars are checked every log_every steps; the parameters before every save.
  with pytest.raises(FloatingPointError, match=r"step 10, not saved: the last good checkpoint "
                                               r"is step 5"):
    run(toy_experiment(nan_at=8, log_every=100), tmp_path)
  checkpointer = ckpt_lib.Checkpointer(str(tmp_path))
  assert checkpointer.latest_step() == 5
  for sub in ("checkpoints", "best"):
    saved = ckpt_lib.Checkpointer(str(tmp_path), subdir=sub)
    state = saved.restore(None)
    assert np.all(np.isfinite(state["w"])), sub
  assert [e["step"] for e in evaluations(tmp_path)] == [5]


def test_an_interrupt_with_non_finite_parameters_saves_nothing(tmp_path):
  with pytest.raises(KeyboardInterrupt):
    run(toy_experiment(nan_at=1, interrupt_step_at=3), tmp_path)
  assert ckpt_lib.Checkpointer(str(tmp_path)).latest_step() is None


def test_a_second_run_on_a_busy_workdir_is_refused_and_a_dead_runs_lock_is_not(tmp_path):
  holder = lock_workdir(str(tmp_path))
  try:
    with pytest.raises(WorkdirError, match=f"in use by another run \\(pid {os.getpid()}"):
      run(toy_experiment(), tmp_path)
  finally:
    holder.close()
  # The file of a lock whose holder is gone does not block: the OS released its flock.
  assert os.path.exists(tmp_path / ".lock")
  assert run(toy_experiment(), tmp_path)["scores"]


def test_unwritable_workdir_is_one_clear_error(tmp_path, monkeypatch):
  def refuse(*args, **kwargs):
    raise PermissionError(errno.EACCES, "Permission denied")
  monkeypatch.setattr(os, "makedirs", refuse)
  with pytest.raises(WorkdirError, match="Cannot write to --workdir .*Permission denied"):
    run(toy_experiment(), tmp_path / "new")
  assert not (tmp_path / "new").exists()


def test_failed_checkpoint_write_leaves_the_previous_one_and_no_partial_folder(tmp_path,
                                                                              monkeypatch):
  real_save = ckpt_lib.ocp.CheckpointManager.save

  def full_disk(self, step, *args, **kwargs):
    if step == 10:
      os.makedirs(os.path.join(str(self.directory), f"{step}.orbax-checkpoint-tmp-1"))
      raise OSError(errno.ENOSPC, "No space left on device")
    return real_save(self, step, *args, **kwargs)
  monkeypatch.setattr(ckpt_lib.ocp.CheckpointManager, "save", full_disk)
  with pytest.raises(WorkdirError, match=r"step 10 .*No space left on device.*step 5 is intact"):
    run(toy_experiment(), tmp_path)
  assert not glob.glob(str(tmp_path / "checkpoints" / "*tmp*"))
  monkeypatch.setattr(ckpt_lib.ocp.CheckpointManager, "save", real_save)
  assert ckpt_lib.Checkpointer(str(tmp_path)).latest_step() == 5


def test_corrupt_latest_checkpoint_is_named_and_the_previous_one_resumes(uninterrupted,
                                                                        tmp_path):
  whole, results = uninterrupted
  workdir = tmp_path / "run"
  run(toy_experiment(num_steps=10), workdir)
  for path in glob.glob(str(workdir / "checkpoints" / "10" / "**" / "*"), recursive=True):
    if os.path.isfile(path) and "_METADATA" not in path and os.path.getsize(path) > 0:
      with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
  broken = str(workdir / "checkpoints" / "10")
  with pytest.raises(WorkdirError, match=f"{broken} cannot be restored .*delete {broken} to "
                                         "resume from step 5"):
    run(toy_experiment(), workdir)
  shutil.rmtree(broken)
  assert run(toy_experiment(), workdir)["scores"] == results["scores"]


def test_corrupt_config_json_is_named(tmp_path):
  run(toy_experiment(num_steps=5), tmp_path)
  (tmp_path / "config.json").write_text("{not json")
  with pytest.raises(WorkdirError, match="config.json cannot be read"):
    run(toy_experiment(), tmp_path)


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_corrupt_gzip_idx_file_is_named(shared_data, tmp_path, damage):
  for name in os.listdir(shared_data / "mnist"):
    shutil.copy(shared_data / "mnist" / name, tmp_path / name)
  target = tmp_path / "t10k-labels-idx1-ubyte.gz"
  data = bytearray(target.read_bytes())
  if damage == "flip":
    data[len(data) // 2] ^= 0xFF
  else:
    data = data[: len(data) // 2]
  target.write_bytes(bytes(data))
  with pytest.raises(DataError, match=f"{target} cannot be read .*corrupt or truncated"):
    idx_lib.load_idx(tmp_path, "mnist")


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not a zip", "truncated"])
def test_corrupt_canvas_cache_is_regenerated(tmp_path, content):
  rng = np.random.default_rng(0)
  items = {"train": (rng.integers(0, 255, (50, 28, 28), np.uint8), rng.integers(0, 10, 50)),
           "test": (rng.integers(0, 255, (20, 28, 28), np.uint8), rng.integers(0, 10, 20))}

  def load():
    return multi_mnist.load_or_generate("multi_mnist", lambda name: items, "test", 0, 40, 10,
                                        cache_dir=tmp_path)
  first = load()
  (cache,) = glob.glob(str(tmp_path / "*.npz"))
  whole = open(cache, "rb").read()
  with open(cache, "wb") as f:
    f.write(whole[: len(whole) // 2] if content == "truncated" else content)
  again = load()
  np.testing.assert_array_equal(again.train[0], first.train[0])
  assert open(cache, "rb").read() == whole  # regenerated, and valid again


@pytest.mark.parametrize("args,message", [
    (["--config=configs/split_mnst.py"], "config file configs/split_mnst.py not found"),
    (["--config=configs/split_mnist.py:chunkd"], "Unknown config argument(s) ['chunkd']"),
    (["--config=configs/split_mnist.py:chunked,tiny", "--config.num_stepz=3"],
     "--config.num_stepz is not a key of this config; did you mean num_steps?"),
    (["--config=configs/split_mnist.py:chunked,tiny", "--config.num_steps=abc"],
     "flag --config.num_steps=abc: invalid literal for int()"),
])
def test_cli_config_mistakes_are_one_line(args, message, tmp_path):
  workdir = tmp_path / "run"
  proc = subprocess.run([sys.executable, "-m", "launch.train", f"--workdir={workdir}", *args],
                        cwd=REPO, capture_output=True, text=True, timeout=120)
  assert proc.returncode == 2, proc.stderr
  lines = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
  assert len(lines) == 1 and message in lines[0], proc.stderr
  assert "Traceback" not in proc.stderr
  assert not workdir.exists()


def test_cli_empty_workdir_is_refused_before_loading_anything():
  proc = subprocess.run([sys.executable, "-m", "launch.train", "--workdir=",
                         "--config=configs/split_mnist.py:chunked,tiny"],
                        cwd=REPO, capture_output=True, text=True, timeout=120)
  assert proc.returncode == 2 and "error: --workdir is empty" in proc.stderr
  assert "Traceback" not in proc.stderr


def test_all_finite_sees_every_float_leaf():
  assert bool(loop._all_finite({"a": jnp.ones(2), "b": (jnp.zeros(()), 3)}))
  assert not bool(loop._all_finite({"a": jnp.ones(2), "b": (jnp.array(jnp.inf),)}))
  assert bool(loop._all_finite({"k": jax.random.key(0), "i": jnp.arange(3)}))
