"""Multi-task benchmarks (Cubelier 2022): configs, baselines in one harness, one task per
step, new-task inference with a frozen hypernetwork, CIFAR on mock data, comparison table."""

import json
import os
import subprocess
import sys

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import permuted_mnist, split_cifar10, split_cifar100, split_mnist
from configs import multitask_common as multitask_configs
from hyperjax.experiments import compare, multitask, new_task
from hyperjax.hypernets import ChunkedHypernet, Conditioner, make_hypernet
from hyperjax.targets import make_target
from tests import mock_tfds

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = {"split_mnist": split_mnist, "permuted_mnist": permuted_mnist,
           "split_cifar10": split_cifar10, "split_cifar100": split_cifar100}

MOCK_STEPS = 300  # one-task steps on the class-coded mock CIFAR-10 (mean accuracy > 0.75)


@pytest.mark.parametrize("benchmark,params", [
    ("split_mnist", 784 * 400 + 400 + 2 * (400 * 400 + 400) + 400 * 2 + 2),
    ("permuted_mnist", 784 * 400 + 400 + 2 * (400 * 400 + 400) + 400 * 10 + 10),
    ("split_cifar10", None), ("split_cifar100", None)])
def test_benchmark_configs_build_the_thesis_setups(benchmark, params):
  config = CONFIGS[benchmark].get_config()
  assert config.hypernet.family == "sparse" and config.hypernet.kwargs.latent_dim == 512
  size = multitask_configs.target_size(benchmark, tiny=False)
  if params is not None:
    assert size == params  # MLP 784-400-400-400-k
  else:
    # ResNet-32 without BatchNorm: 0.46M parameters, k logits.
    assert config.target.name == "cifar_resnet" and not config.target.kwargs.use_batchnorm
    assert size == make_target("cifar_resnet", depth=32, use_batchnorm=False,
                               num_classes=config.tasks.classes_per_task).num_params
  chunked = CONFIGS[benchmark].get_config("chunked")
  spec = multitask_configs.benchmark_target(benchmark, tiny=False).spec
  assert ChunkedHypernet(spec, **chunked.hypernet.kwargs).total_chunks == 23  # thesis: ~23


@pytest.mark.parametrize("arg,message", [
    ("sparse,chunked", "one hypernetwork family"),
    ("resnet", "Unknown config argument"),
])
def test_bad_config_arguments_are_refused(arg, message):
  with pytest.raises(ValueError, match=message):
    split_mnist.get_config(arg)
  with pytest.raises(ValueError, match="embedded"):
    split_cifar10.get_config("embedded")


def tiny(arg, **overrides):
  config = split_mnist.get_config(arg + ",tiny")
  config.data.source = "embedded"
  config.num_steps, config.eval_every, config.log_every = 40, 40, 10
  config.update_from_flattened_dict(overrides)
  return config


@pytest.mark.parametrize("family", ["linear", "mlp", "independent"])
def test_baselines_train_in_the_same_harness(family, tmp_path):
  results = multitask.train_and_evaluate(tiny(family), str(tmp_path))
  assert results["test_accuracy"] > 0.75 and len(results["test_accuracies"]) == 5
  target = results["num_params"]["target"]
  expected = {"independent": 5 * target,
              "linear": (8 + 1) * target + 5 * 8,
              "mlp": 16 * 16 + 16 + 16 * 16 + 16 + (16 + 1) * target + 5 * 16}[family]
  assert results["num_params"]["hypernet"] == expected


def test_one_task_per_step_trains_each_task_in_turn(tmp_path):
  """With ``cycle``, step s trains task s % T only: after T*n steps every task is learnt,
  and a task not yet reached (a run shorter than T steps) stays at its initial state."""
  results = multitask.train_and_evaluate(tiny("chunked,cycle", num_steps=100, eval_every=100),
                                         str(tmp_path / "cycle"))
  assert min(results["test_accuracies"]) > 0.7
  config = tiny("independent,cycle", num_steps=3, eval_every=3)
  short = multitask.train_and_evaluate(config, str(tmp_path / "short"))
  first = multitask.train_and_evaluate(tiny("independent,cycle", num_steps=1, eval_every=1),
                                       str(tmp_path / "one"))
  # Independent networks: one step trains task 0 only, three steps tasks 0, 1 and 2.
  assert short["test_accuracies"][3:] == first["test_accuracies"][3:]
  assert all(a != b for a, b in zip(short["test_accuracies"][1:3], first["test_accuracies"][1:3]))


def test_new_task_inferred_from_few_shots_with_the_hypernet_frozen(tmp_path):
  config = tiny("sparse,new_task", num_steps=150, eval_every=150)
  config.new_task.shots = (5, 20)
  results = multitask.train_and_evaluate(config, str(tmp_path))
  assert results["task_ids"] == [0, 1, 2, 3] and len(results["test_accuracies"]) == 4
  nt = results["new_task"]
  assert nt["task"] == 4 and tuple(nt["classes"]) == (8, 9)
  assert set(nt["test_accuracy"]) == {"5", "20"}
  # 10 or 40 examples are fitted by moving one embedding; the held-out test set (digits
  # 8 vs 9, never seen in training) is classified well above chance.
  assert nt["train_accuracy"]["20"] >= 0.9
  assert nt["test_accuracy"]["20"] > max(0.65, nt["accuracy_at_init"] - 0.05)


def test_independent_networks_infer_a_new_task_from_scratch(tmp_path):
  config = tiny("independent,new_task", num_steps=10, eval_every=10)
  config.new_task.shots, config.new_task.steps = (20,), 100
  nt = multitask.train_and_evaluate(config, str(tmp_path))["new_task"]
  # A fresh network fits its 40 examples and generalises above chance on 8 vs 9.
  assert nt["train_accuracy"]["20"] == 1.0 and nt["test_accuracy"]["20"] > 0.65


def test_new_task_pieces():
  labels = np.repeat(np.arange(3), 10)
  picks = new_task.few_shot_indices(labels, 4, seed=0)
  assert np.bincount(labels[picks]).tolist() == [4, 4, 4]
  np.testing.assert_array_equal(picks, new_task.few_shot_indices(labels, 4, seed=0))
  with pytest.raises(ValueError, match="only 10"):
    new_task.few_shot_indices(labels, 11, seed=0)
  spec = make_target("mlp", hidden=(4,), num_outputs=2, input_shape=(3,)).spec
  hnet = make_hypernet("linear", spec, Conditioner(num_embeddings=3, embedding_dim=5))
  params = hnet.init(jax.random.key(0), jnp.asarray(0))
  path, table = new_task.find_embedding_table(params)
  assert table.shape == (3, 5)
  extended = new_task.with_new_embedding(params, path, jnp.arange(5.0))
  new_table = new_task.find_embedding_table(extended)[1]
  np.testing.assert_array_equal(new_table[:3], table)
  np.testing.assert_array_equal(new_table[3], np.arange(5.0))
  independent = make_hypernet("independent", spec, Conditioner(num_embeddings=3))
  with pytest.raises(ValueError, match="not 'independent'"):
    new_task.find_embedding_table(independent.init(jax.random.key(0), jnp.asarray(0)))


@pytest.mark.slow
# Split CIFAR-10 learns its class-coded mock tasks in MOCK_STEPS steps of one task each;
# the other cases check the wiring (all tasks in every step; CIFAR-100's ten classes per
# task, with five mock images per class, do not learn in a test's budget).
@pytest.mark.parametrize("module,num_tasks,examples,arg,learns", [
    (split_cifar10, 5, 200, "chunked,tiny,cycle", True),
    (split_cifar10, 5, 200, "chunked,tiny", False),
    (split_cifar100, 10, 500, "chunked,tiny,cycle", False)])
def test_split_cifar_resnet32_without_bn_on_class_coded_mock_data(module, num_tasks, examples, arg,
                                                                  learns, tmp_path):
  pytest.importorskip("tensorflow_datasets")
  config = module.get_config(arg)
  config.data.source = "tfds"
  config.num_steps = config.eval_every = MOCK_STEPS if learns else 4
  config.eval_batch_size = 64
  with mock_tfds.class_coded(num_examples=examples):
    results = multitask.train_and_evaluate(config, str(tmp_path))
  assert len(results["test_accuracies"]) == num_tasks
  assert results["num_params"]["target"] == make_target(
      "cifar_resnet", depth=8, use_batchnorm=False,
      num_classes=config.tasks.classes_per_task).num_params
  if learns:  # each class a colour of its own (tests/mock_tfds.py); chance is 1/2
    assert np.mean(results["test_accuracies"]) > 0.75, results["test_accuracies"]


@pytest.mark.parametrize("unroll", [False, True])
def test_all_task_losses_unrolled_equal_vmapped(unroll):
  """The CPU path (one copy per task) and the vmap give the same losses and gradients, and
  both equal each task's loss computed on its own."""
  target = make_target("mlp", hidden=(8,), num_outputs=3, input_shape=(5,))
  hnet = ChunkedHypernet(target.spec, chunk_size=20, num_ws=2, hidden=(8,),
                         conditioner=Conditioner(num_embeddings=4, embedding_dim=6))
  params = hnet.init(jax.random.key(0), jnp.asarray(0))
  xs = jax.random.normal(jax.random.key(1), (4, 7, 5))
  ys = jax.random.randint(jax.random.key(2), (4, 7), 0, 3)

  def task_loss(p, t, x, y):
    logits = target.apply(hnet.apply(p, t), x)
    return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(7), y]), jnp.mean(logits)

  def mean_loss(p, unrolled):
    return jnp.mean(multitask.all_task_losses(task_loss, p, 4, xs, ys, unrolled)[0])

  losses, aux = multitask.all_task_losses(task_loss, params, 4, xs, ys, unroll)
  alone = [task_loss(params, jnp.asarray(t), xs[t], ys[t]) for t in range(4)]
  np.testing.assert_allclose(losses, [a[0] for a in alone], rtol=1e-6)
  np.testing.assert_allclose(aux, [a[1] for a in alone], rtol=1e-6)
  chex.assert_trees_all_close(jax.jit(jax.grad(mean_loss), static_argnums=1)(params, unroll),
                              jax.grad(mean_loss)(params, not unroll), rtol=1e-5, atol=1e-7)


def _fake_results(family, seed, acc, shots=None):
  out = {"config": {"seed": seed}, "num_params": {"hypernet": 1000, "target": 100},
         "test_accuracy": acc, "test_accuracies": [acc, acc], "wall_time_s": 1.0}
  if shots:
    out["new_task"] = {"task": 1, "accuracy_at_init": 0.5, "test_accuracy": shots}
  return out


def test_comparison_table_statistics():
  results = {"sparse": [_fake_results("sparse", s, a, {"10": a, "5": a - 0.1})
                        for s, a in enumerate([0.9, 0.8, 0.7])],
             "chunked": [_fake_results("chunked", s, 0.95, {"10": 0.7, "5": 0.6})
                         for s in range(3)]}
  rows = compare.summarize(results)
  assert rows[0]["test_accuracy"]["mean"] == pytest.approx(0.8)
  assert rows[0]["test_accuracy"]["std"] == pytest.approx(np.std([0.9, 0.8, 0.7], ddof=1))
  assert rows[0]["compression"] == pytest.approx(1000 / 200)
  assert rows[1]["test_accuracy"]["std"] == pytest.approx(0.0, abs=1e-12)
  table = compare.markdown_table(rows, "t")
  # Shot columns in numeric order (5 before 10), whatever order JSON gave the keys in.
  assert ("| sparse | 1,000 | 5.00 | 80.00 ± 10.00 | 50.00 ± 0.00 | 70.00 ± 10.00 | "
          "80.00 ± 10.00 |") in table
  assert table.index("5-shot") < table.index("10-shot")
  assert compare.parse_overrides(["num_steps=20", "data.source=embedded"]) == {
      "num_steps": 20, "data.source": "embedded"}
  with pytest.raises(ValueError, match="KEY=VALUE"):
    compare.parse_overrides(["num_steps"])


@pytest.mark.slow
def test_compare_command_trains_reads_back_and_refuses_other_configs(tmp_path):
  workdir = tmp_path / "cmp"
  command = [sys.executable, "-m", "launch.compare", "--config=configs/split_mnist.py",
             "--families=chunked,independent", "--options=tiny", "--seeds=0,1",
             "--override=data.source=embedded", "--override=num_steps=20",
             "--override=eval_every=20", f"--workdir={workdir}"]
  proc = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  rows = json.load(open(workdir / "comparison.json"))["rows"]
  assert [r["family"] for r in rows] == ["chunked", "independent"]
  assert all(len(r["test_accuracy"]["values"]) == 2 for r in rows)
  assert "| independent |" in open(workdir / "comparison.md").read()
  stamp = os.path.getmtime(workdir / "chunked" / "seed_1" / "results.json")
  again = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
  assert again.returncode == 0 and "===" not in again.stdout  # nothing retrained
  assert os.path.getmtime(workdir / "chunked" / "seed_1" / "results.json") == stamp
  other = subprocess.run(command[:-1] + ["--override=optimizer.learning_rate=0.01", f"--workdir={workdir}"],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
  assert other.returncode == 2 and "different config" in other.stderr
  assert "Traceback" not in other.stderr
