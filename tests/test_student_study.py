"""The student CNN study: the target, the nine-network baseline and both hypernetwork arms."""

import json
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import student_cnn_study
from hyperjax import builders
from hyperjax.data import load_multi
from hyperjax.experiments import get_experiment
from hyperjax.hypernets import ChunkedHypernet
from hyperjax.pareto.trainer import build_pareto_hypernet
from hyperjax.targets import make_target
from hyperjax.training.checkpoint import Checkpointer


def test_student_cnn_and_generators_have_the_stated_sizes():
  target = make_target("student_cnn")
  # conv 320 + 18,496 + 55,392, dense 2,400 x 128 + 128, two heads of 1,290.
  assert target.num_params == 320 + 18_496 + 55_392 + 307_328 + 2 * 1_290 == 384_116
  for arm, projections in (("cpmtl", (97, 1, 100, 4000)), ("phn", (1, 100, 4000))):
    config = student_cnn_study.get_config(arm)
    hnet = ChunkedHypernet(target.spec, **config.hypernet.kwargs)
    shapes = jax.eval_shape(hnet.init, jax.random.key(0), np.ones(2, np.float32))["params"]
    name = "chunk_ws" if arm == "cpmtl" else "ws"
    assert shapes[name].shape == projections


def _tiny(arg, **overrides):
  config = student_cnn_study.get_config(arg + ",tiny")
  config.data.source = "embedded"
  config.data.num_train = 600  # 540 train canvases, 3 steps of 256 (the last one partial)
  config.data.num_test = 200
  config.update(overrides)
  return config


def _final_params(workdir, config, num_networks):
  target = make_target("student_cnn")
  optimizer = builders.build_optimizer(config.optimizer)
  keys = jax.random.split(jax.random.key(config.seed), num_networks)
  stacked = jax.vmap(target.init_weights)(keys)
  checkpointer = Checkpointer(workdir)
  steps = checkpointer.latest_step()
  params = checkpointer.restore({"params": stacked, "opt_state": optimizer.init(stacked)},
                                steps)["params"]
  checkpointer.close()
  return params


def test_separate_networks_train_independently_in_one_step(tmp_path):
  """Network 0 of the vmapped step follows the same trajectory whatever network 1's
  preference is: the copies share nothing (dropout masks included)."""
  runs = {}
  for name, other in (("a", (0.3, 0.7)), ("b", (0.9, 0.1))):
    config = _tiny("separate", preferences=((0.5, 0.5), other))
    workdir = str(tmp_path / name)
    results = get_experiment(config.experiment).train_and_evaluate(config, workdir)
    runs[name] = (config, workdir, results)
  first = [jax.tree.map(lambda w: w[0], _final_params(w, c, 2)) for c, w, _ in runs.values()]
  chex.assert_trees_all_close(first[0], first[1], rtol=1e-5, atol=1e-6)
  second = [jax.tree.map(lambda w: w[1], _final_params(w, c, 2)) for c, w, _ in runs.values()]
  assert not np.allclose(second[0]["head_0"]["kernel"],
                         second[1]["head_0"]["kernel"])
  # The report: each network at its own best validation scalarised loss.
  _, workdir, results = runs["a"]
  evals = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl")) if '"eval"' in l]
  prefs = np.asarray(results["preferences"])
  for j in range(2):
    best = min(evals, key=lambda e: float(np.dot(prefs[j], e["val_losses"][j])))
    for split in ("train", "val", "test"):
      np.testing.assert_allclose(results[f"{split}_accuracies"][j],
                                 best[f"{split}_accuracies"][j])
  assert results["num_params"] == {"target": 384_116, "total": 2 * 384_116}


@pytest.mark.parametrize("arm", ["cpmtl", "phn"])
def test_hypernetwork_arms_report_the_nine_preferences(tmp_path, arm):
  config = _tiny(arm)
  config.hypernet.kwargs.hidden = (16,)  # the wiring, not the paper's size (tested above)
  results = get_experiment(config.experiment).train_and_evaluate(config, str(tmp_path / arm))
  np.testing.assert_allclose(results["rays"], student_cnn_study.PREFERENCES, atol=1e-6)
  for split in ("train", "val", "test"):
    assert np.asarray(results[f"{split}_accuracies"]).shape == (9, 2)
  assert results["solver"] == {"cpmtl": "cpmtl", "phn": "ls"}[arm]


def _initial_logits(config, x):
  target = make_target("student_cnn")
  hnet, variables = build_pareto_hypernet(config.hypernet, target, 0, config.ray_alpha, 2)
  rays = np.asarray([(0.5, 0.5), (0.9, 0.1), (0.02, 0.98)], np.float32)
  weights = jax.vmap(hnet.apply, in_axes=(None, 0))(variables, rays)
  return jax.vmap(lambda w: jnp.stack(target.apply(w, x)))(weights), target, hnet, variables


@pytest.mark.parametrize("arm", ["phn"])  # cpmtl: the same recipe, 89x the projections (27 s)
def test_default_generators_start_like_the_plain_cnn_at_every_ray(arm):
  """At initialisation the generated CNN's logits have the plain init's scale at every ray
  (within 2x) and its loss is that of a near-uniform prediction, where the paper's
  hyperfan-in (He gain, Var(b) = 1/2 x gain, PHN's ray embedding) starts far above
  ln 10 and ray-dependent; the shared projection reads centred chunk features."""
  data = load_multi(_tiny(arm).data)
  x, y = data.train[0][:64], data.train[1][:64]
  plain = jnp.stack(make_target("student_cnn").apply(
      make_target("student_cnn").init_weights(jax.random.key(0)), x))
  logits, _, hnet, variables = _initial_logits(student_cnn_study.get_config(arm), x)
  scale = np.asarray(jnp.std(logits, axis=(1, 2, 3))) / float(jnp.std(plain))
  assert np.all((scale > 0.5) & (scale < 2.0)), scale

  def loss(l):
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(l), y.T[..., None], -1))
  losses = np.asarray(jax.vmap(loss)(logits))
  np.testing.assert_allclose(losses, np.log(10), atol=0.15)
  paper, *_ = _initial_logits(student_cnn_study.get_config(arm + ",paper_init"), x)
  assert float(jnp.max(jax.vmap(loss)(paper))) > np.log(10) + 0.5
  if arm == "phn":
    features = hnet.apply(variables, jnp.asarray([0.9, 0.1]), method="features")
    np.testing.assert_allclose(jnp.mean(features, axis=0), 0.0, atol=1e-5)
