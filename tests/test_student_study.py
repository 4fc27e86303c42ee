"""The student CNN study: the target, the nine-network baseline and both hypernetwork arms."""

import json
import os

import chex
import jax
import numpy as np
import pytest

from configs import student_cnn_study
from hyperjax import builders
from hyperjax.experiments import get_experiment
from hyperjax.hypernets import ChunkedHypernet
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
