"""The Pareto step (vs explicit per-ray gradients), the experiment end to end, inference."""

import functools
import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from configs import phn_multi_mnist
from hyperjax import builders
from hyperjax.experiments import pareto
from hyperjax.hypernets import MLPHypernet, init_hypernet
from hyperjax.pareto import load_pareto_model, rays as rays_lib, solvers
from hyperjax.pareto.objectives import evaluate_objective, per_head_cross_entropy
from hyperjax.pareto.step import make_pareto_step
from hyperjax.targets import make_target


def task_losses(target, weights, images, labels):
  return evaluate_objective(per_head_cross_entropy(), target.apply(weights, images),
                            (images, labels))


@pytest.fixture(scope="module")
def small_problem():
  target = make_target("phn_lenet", conv_impl="patches")
  hnet, variables = init_hypernet(MLPHypernet(target.spec, hidden=(8, 8)), jax.random.key(0),
                                  rays_lib.sample_rays(jax.random.key(1), 32, 0.2, 2),
                                  "hyperfan_in", 2.0)
  images = jax.random.uniform(jax.random.key(2), (12, 36, 36, 1))
  labels = jax.random.randint(jax.random.key(3), (12, 2), 0, 10)
  return target, hnet, variables, images, labels


@functools.partial(jax.jit, static_argnums=(0, 1, 6))
def explicit_gradient(target, hnet, variables, ray, images, labels, solver):
  """Per-task gradients by separate jax.grad calls; solver weights from their Gram matrix."""
  def task(i):
    return lambda v: task_losses(target, hnet.apply(v, ray), images, labels)[0][i]
  grads = [jax.grad(task(i))(variables) for i in range(2)]
  flat = [jnp.concatenate([g.ravel() for g in jax.tree.leaves(gr)]) for gr in grads]
  G = jnp.stack(flat)
  losses = task_losses(target, hnet.apply(variables, ray), images, labels)[0]
  w = solvers.make_solver(solver).weights(losses, G @ G.T, ray)
  return jax.tree.map(lambda a, b: w[0] * a + w[1] * b, *grads)


@pytest.mark.parametrize("solver,batching,num_rays", [
    ("ls", "whole", 3), ("ls", "split", 3), ("epo", "whole", 3), ("epo", "split", 3),
    ("chebyshev", "whole", 3), ("cpmtl", "whole", 3), ("ls", "whole", 1), ("epo", "whole", 1)])
def test_step_equals_mean_of_explicit_per_ray_gradients(small_problem, solver, batching,
                                                         num_rays):
  """One ray (no vmap) and several (vmap over rays) alike."""
  target, hnet, variables, images, labels = small_problem
  step = make_pareto_step(hnet, target, optax.sgd(1.0), solvers.make_solver(solver),
                          num_objectives=2, num_rays=num_rays, ray_batching=batching)
  rng = jax.random.key(7)
  state = {"params": variables, "opt_state": optax.sgd(1.0).init(variables)}
  new_state, metrics = step(jax.tree.map(jnp.copy, state), (images, labels), rng)
  rays = rays_lib.sample_rays(rng, num_rays, 0.2, 2)
  expected = []
  for r in range(num_rays):
    x, y = (images[4 * r:4 * r + 4], labels[4 * r:4 * r + 4]) if batching == "split" \
        else (images, labels)
    expected.append(explicit_gradient(target, hnet, variables, rays[r], x, y, solver))
  expected = jax.tree.map(lambda *g: sum(g) / num_rays, *expected)
  applied = jax.tree.map(lambda old, new: old - new, variables, new_state["params"])
  chex.assert_trees_all_close(applied, expected, atol=2e-5, rtol=2e-3)
  assert np.isfinite(float(metrics["loss"]))


def test_step_compiles_once(small_problem):
  target, hnet, variables, images, labels = small_problem
  step = make_pareto_step(hnet, target, optax.adam(1e-4), solvers.epo(), num_objectives=2,
                          num_rays=2)
  state = {"params": variables, "opt_state": optax.adam(1e-4).init(variables)}
  for i in range(3):
    state, _ = step(state, (images, labels), jax.random.key(i))
  assert step._cache_size() == 1


def test_split_batching_needs_divisible_batch(small_problem):
  target, hnet, variables, images, labels = small_problem
  step = make_pareto_step(hnet, target, optax.sgd(1.0), solvers.ls(), num_objectives=2,
                          num_rays=5, ray_batching="split")
  state = {"params": variables, "opt_state": optax.sgd(1.0).init(variables)}
  with pytest.raises(ValueError, match="not divisible by num_rays 5"):
    step(state, (images, labels), jax.random.key(0))


def tiny_config(arg_solver="ls", **overrides):
  config = phn_multi_mnist.get_config(f"{arg_solver},tiny")
  config.data.source = "embedded"
  config.data.num_train = 1200
  config.data.num_test = 300
  config.num_eval_rays = 5
  config.log_every = 2
  for key, value in overrides.items():
    node, *path = key.split(".")
    parent = config
    for part in [node] + path[:-1] if path else []:
      parent = parent[part]
    parent[path[-1] if path else node] = value
  return config


@pytest.fixture(scope="module")
def epo_run(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("epo"))
  os.environ["HYPERJAX_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
  return workdir, pareto.train_and_evaluate(tiny_config("epo"), workdir)


def test_pareto_run_writes_the_contract(epo_run):
  workdir, results = epo_run
  saved = json.load(open(os.path.join(workdir, "results.json")))
  for key in ("hypervolume", "reference_point", "rays", "test_losses", "test_accuracies",
              "uniformity", "best_epoch", "num_params", "data_source", "wall_time_s"):
    assert key in saved, key
  assert np.asarray(saved["test_losses"]).shape == (5, 2)
  assert np.asarray(saved["rays"]).shape == (5, 2)
  assert saved["num_params"] == {"hypernet": 3_243_410, "target": 31_910}
  assert saved["data_source"] == "embedded" and saved["reference_point"] == [2.0, 2.0]
  assert os.path.getsize(os.path.join(workdir, "pareto_front.png")) > 10_000
  evals = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))
           if '"eval"' in l]
  assert len(evals) == 2 and saved["best_epoch"] in (1, 2)
  best = max(evals, key=lambda e: e["val_hypervolume"])
  assert saved["hypervolume"] == best["test_hypervolume"]
  train = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl")) if '"train"' in l]
  assert train[-1]["loss"] < train[0]["loss"]


def test_pareto_resume_is_exact(epo_run, tmp_path):
  workdir, results = epo_run
  resumed = str(tmp_path / "resumed")
  pareto.train_and_evaluate(tiny_config("epo", num_epochs=1), resumed)
  final = pareto.train_and_evaluate(tiny_config("epo"), resumed)
  assert final["test_losses"] == results["test_losses"]
  strip = lambda p: [json.loads(l) for l in open(p)]
  assert strip(os.path.join(resumed, "metrics.jsonl")) == strip(os.path.join(workdir, "metrics.jsonl"))


def test_inference_api_matches_the_hypernetwork(epo_run):
  workdir, results = epo_run
  model = load_pareto_model(workdir)
  assert model.step == results["best_step"]
  rays = np.array([[0.2, 0.8], [0.7, 0.3]], np.float32)
  weights = model.weights(rays)
  model.target.spec.check(weights, batch_shape=(2,))
  chex.assert_trees_all_close(jax.tree.map(lambda w: w[1], weights),
                              model.hnet.apply(model.variables, jnp.asarray(rays[1])), atol=1e-6)
  logits = model.predict([0.5, 0.5], np.zeros((3, 36, 36, 1), np.float32))
  assert [l.shape for l in logits] == [(1, 3, 10), (1, 3, 10)]
  with pytest.raises(rays_lib.RayError, match="sum to 1"):
    model.weights([[0.5, 0.6]])
  for images, message in ((np.zeros((3, 28, 28, 1)), r"shape \(3, 28, 28, 1\); .*\[batch, 36, 36, 1\]"),
                          (np.zeros((2, 36, 36, 3)), r"shape \(2, 36, 36, 3\)"),
                          (np.zeros((36, 36, 1)), r"one image .*add a batch axis")):
    with pytest.raises(ValueError, match=message):
      model.predict([0.5, 0.5], images)


@pytest.mark.parametrize("override,message", [
    ({"solver.name": "mgda"}, "Unknown solver 'mgda'"),
    ({"solver.kwargs": {"epsilon": 1.0}}, "has no option"),
    ({"num_rays": 3, "ray_batching": "split"}, "divisible by num_rays"),
    ({"reference_point": (2.0, 2.0, 2.0)}, "reference_point must be 2"),
    ({"optimizer.learning_rate": float("nan")}, "learning_rate must be"),
    ({"optimizer.name": "adamm"}, "Unknown optimizer 'adamm'"),
])
def test_bad_pareto_configs_fail_before_writing(override, message, tmp_path):
  with pytest.raises(ValueError, match=message):
    pareto.train_and_evaluate(tiny_config(**override), str(tmp_path / "run"))
  assert not (tmp_path / "run").exists()


def test_ray_chunk_resolution():
  from hyperjax.pareto.evaluate import resolve_ray_chunk  # pylint: disable=g-import-not-at-top
  assert resolve_ray_chunk("auto") == (1 if jax.default_backend() == "cpu" else 5)
  assert resolve_ray_chunk("4") == 4 and resolve_ray_chunk(0) is None
  assert resolve_ray_chunk(None) is None
  for bad in ("some", -1, 2.5):
    with pytest.raises(ValueError, match="eval_ray_chunk must be"):
      resolve_ray_chunk(bad)


def test_front_evaluator_with_batchnorm_equals_per_ray_loop():
  """BN targets: per-ray calibrated statistics, all rays at once == one ray at a time."""
  import flax.linen as nn  # pylint: disable=g-import-not-at-top
  from hyperjax import Target, calibrate_state  # pylint: disable=g-import-not-at-top
  from hyperjax.pareto import evaluate as evaluate_lib  # pylint: disable=g-import-not-at-top

  class TwoHeadBn(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
      h = nn.Dense(8)(x.reshape(x.shape[0], -1))
      h = nn.relu(nn.BatchNorm(use_running_average=not train)(h))
      return nn.Dense(3, name="head_0")(h), nn.Dense(3, name="head_1")(h)

  target = Target.from_linen(TwoHeadBn(), jnp.zeros((1, 4, 4, 1)), train=False)
  hnet, variables = init_hypernet(MLPHypernet(target.spec, hidden=(16,)), jax.random.key(0),
                                  rays_lib.sample_rays(jax.random.key(1), 8, 0.2, 2))
  rng = np.random.default_rng(0)
  images = rng.uniform(size=(37, 4, 4, 1)).astype(np.float32)
  labels = rng.integers(0, 3, (37, 2)).astype(np.int32)
  calibration = rng.uniform(size=(2, 10, 4, 4, 1)).astype(np.float32)
  rays = rays_lib.evaluation_rays(4)
  for chunk in (None, 3, 1, "auto"):
    evaluator = evaluate_lib.make_front_evaluator(hnet, target, batch_size=16, ray_chunk=chunk)
    losses, scores = evaluator(variables, rays, (images, labels), calibration)
    accs = scores["accuracy"]
    for r, ray in enumerate(rays):
      w = hnet.apply(variables, jnp.asarray(ray))
      state = calibrate_state(target, w, list(calibration))
      logits = target.apply(w, images, state=state, train=False)
      for t in range(2):
        ce = optax.softmax_cross_entropy_with_integer_labels(logits[t], labels[:, t]).mean()
        np.testing.assert_allclose(losses[r, t], ce, rtol=1e-4)
        np.testing.assert_allclose(accs[r, t], np.mean(np.argmax(logits[t], -1) == labels[:, t]))
  with pytest.raises(ValueError, match="calibration"):
    evaluator(variables, rays, (images, labels))
  # The inference API gives each ray's model its own calibrated statistics too.
  from hyperjax.pareto.inference import ParetoModel  # pylint: disable=g-import-not-at-top
  import ml_collections  # pylint: disable=g-import-not-at-top
  model = ParetoModel(ml_collections.ConfigDict({"num_objectives": 2}), target, hnet, variables, 0)
  logits = model.predict(rays[:2], images[:5], calibration=calibration)
  for r in range(2):
    w = hnet.apply(variables, jnp.asarray(rays[r]))
    state = calibrate_state(target, w, list(calibration))
    for t, expected in enumerate(target.apply(w, images[:5], state=state, train=False)):
      np.testing.assert_allclose(logits[t][r], expected, rtol=1e-4, atol=1e-5)
  with pytest.raises(ValueError, match="pass calibration"):
    model.predict(rays[:2], images[:5])


@pytest.mark.parametrize("preset,count", [("11M", 11_036_684), ("1M", 1_103_564)])
def test_resnet18_config_builds_the_paper_model(preset, count):
  from configs import phn_resnet18  # pylint: disable=g-import-not-at-top
  config = phn_resnet18.get_config(f"{preset},epo,tiny")
  assert (config.solver.name, config.target.name, config.hypernet.family) == (
      "epo", "phn_resnet18", "chunked")
  target = builders.build_target(config.target, num_tasks=2)
  assert target.num_params == 11_443_156 and target.has_state
  hnet = builders.make_hypernet(config.hypernet.family, target.spec,
                                builders.Conditioner(**config.hypernet.conditioner),
                                **config.hypernet.kwargs)
  shapes = jax.eval_shape(hnet.init, jax.random.key(0), jnp.ones(2) / 2)
  assert sum(np.prod(x.shape) for x in jax.tree.leaves(shapes)) == count
  assert phn_resnet18.get_config().hypernet.kwargs.num_chunks == 105  # default preset 11M


def test_plot_front_cli_draws_runs_and_refuses_wrong_anchors(epo_run, tmp_path):
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  workdir, _ = epo_run
  out = tmp_path / "fronts.png"
  cmd = [sys.executable, "-m", "launch.plot_front", f"--workdirs={workdir},{workdir}",
         f"--out={out}"]
  done = subprocess.run(cmd, capture_output=True, text=True, check=False)
  assert done.returncode == 0, done.stderr
  assert out.stat().st_size > 10_000
  done = subprocess.run(cmd + [f"--anchors_from={workdir}"], capture_output=True, text=True,
                        check=False)
  assert done.returncode != 0 and "is not a single_task run" in done.stderr
