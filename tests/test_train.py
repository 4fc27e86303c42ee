"""Launch contract: real training runs on tiny settings, exact resume, errors."""

import json
import os
import subprocess
import sys

import pytest

from configs import split_mnist
from hyperjax.experiments import multitask
from hyperjax.training.workdir import WorkdirError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_config(**overrides):
  config = split_mnist.get_config("chunked,tiny")
  config.data.source = "embedded"
  config.num_steps = 60
  config.eval_every = 30
  config.log_every = 10
  for key, value in overrides.items():
    config[key] = value
  return config


def read_metrics(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("full"))
  return workdir, multitask.train_and_evaluate(tiny_config(), workdir)


def test_training_learns_and_writes_outputs(full_run):
  workdir, results = full_run
  train = [r for r in read_metrics(workdir) if r["kind"] == "train"]
  assert train[-1]["loss"] < 0.6 * train[0]["loss"]
  assert results["test_accuracy"] > 0.75  # chance is 0.5 per task; 60 steps
  assert len(results["test_accuracies"]) == 5
  assert results["data_source"] == "embedded"
  assert results["num_params"]["target"] == 784 * 100 + 100 + 100 * 100 + 100 + 100 * 2 + 2
  saved = json.load(open(os.path.join(workdir, "results.json")))
  assert saved["test_accuracy"] == results["test_accuracy"]
  assert os.listdir(os.path.join(workdir, "tensorboard"))
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints")))[-1] == "60"


def test_killed_run_resumes_to_the_same_numbers(full_run, tmp_path):
  workdir, results = full_run
  resumed = str(tmp_path / "resumed")
  # A run stopped after its checkpoint at step 30 (same config apart from its length) ...
  multitask.train_and_evaluate(tiny_config(num_steps=30), resumed)
  # ... and the same command again: it resumes from step 30.
  final = multitask.train_and_evaluate(tiny_config(), resumed)
  assert final["test_accuracies"] == results["test_accuracies"]
  assert read_metrics(resumed) == read_metrics(workdir)


def test_same_seed_same_numbers_other_seed_differs(full_run, tmp_path):
  _, results = full_run
  again = multitask.train_and_evaluate(tiny_config(num_steps=30), str(tmp_path / "a"))
  other = multitask.train_and_evaluate(tiny_config(num_steps=30, seed=1), str(tmp_path / "b"))
  first = [r for r in read_metrics(str(tmp_path / "a")) if r["kind"] == "eval"][0]
  assert again["test_accuracies"] == first["test_accuracies"]
  assert other["test_accuracies"] != again["test_accuracies"]


def test_workdir_of_another_run_is_refused_untouched(full_run):
  workdir, _ = full_run
  before = {f: os.path.getmtime(os.path.join(workdir, f)) for f in os.listdir(workdir)}
  config = tiny_config()
  config.target.kwargs.hidden = (50,)
  with pytest.raises(WorkdirError, match="different run"):
    multitask.train_and_evaluate(config, workdir)
  assert before == {f: os.path.getmtime(os.path.join(workdir, f)) for f in os.listdir(workdir)}


@pytest.mark.parametrize("override,message", [
    ("--config.optimizer.learning_rate=nan", "learning_rate must be a positive finite"),
    ("--config.hypernet.family=transformer", "Unknown hypernetwork family 'transformer'"),
    ("--config.target.name=lenet5", "Unknown target 'lenet5'"),
    ("--config.data.source=web", "Unknown data source 'web'"),
])
def test_cli_bad_config_fails_with_one_clear_message(override, message, tmp_path):
  workdir = tmp_path / "run"
  proc = subprocess.run(
      [sys.executable, "-m", "launch.train", "--config=configs/split_mnist.py:chunked,tiny",
       f"--workdir={workdir}", override], cwd=REPO, capture_output=True, text=True, timeout=120)
  assert proc.returncode == 2
  assert message in proc.stderr
  assert "Traceback" not in proc.stderr
  assert not workdir.exists()


def test_sparse_hypernet_trains_split_mnist(tmp_path):
  config = split_mnist.get_config("sparse,tiny")
  config.data.source = "embedded"
  config.num_steps, config.eval_every, config.log_every = 60, 60, 10
  results = multitask.train_and_evaluate(config, str(tmp_path))
  train = [r for r in read_metrics(str(tmp_path)) if r["kind"] == "train"]
  assert train[-1]["loss"] < 0.6 * train[0]["loss"]
  assert results["test_accuracy"] > 0.75 and len(results["test_accuracies"]) == 5
  assert config.hypernet.kwargs.latent_dim == config.hypernet.embedding_dim == 64
  # 3 edges per unit from 64 dims doubling up to the target's 88,802 weights, plus the
  # 5 task embeddings: the parameter count follows from the structure alone.
  widths = [64 * 2**i for i in range(1, 11)] + [88_802]
  assert results["num_params"]["hypernet"] == 3 * sum(widths) + 5 * 64
