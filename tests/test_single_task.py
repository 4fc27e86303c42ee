"""Single-task anchors: vmapped per-task training equals training each task alone."""

import json
import os

import chex
import jax
import numpy as np
import optax
import pytest

from configs import phn_multi_mnist
from hyperjax.data import pipeline
from hyperjax.experiments import get_experiment
from hyperjax.pareto import metrics
from hyperjax.pareto.objectives import per_head_cross_entropy
from hyperjax.targets import make_target
from hyperjax.training.checkpoint import Checkpointer


@pytest.fixture(scope="module")
def anchors_run(tmp_path_factory):
  os.environ["HYPERJAX_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
  config = phn_multi_mnist.get_config("single_task,tiny")
  config.data.source = "embedded"
  config.data.num_train = 600  # 540 train canvases: 2 steps per epoch
  config.data.num_test = 200
  config.eval_every_epochs = 1
  config.optimizer.learning_rate = 1e-3
  workdir = str(tmp_path_factory.mktemp("anchors"))
  assert config.experiment == "single_task"
  return config, workdir, get_experiment(config.experiment).train_and_evaluate(config, workdir)


def test_anchors_are_the_per_task_best_validation_models(anchors_run):
  config, workdir, results = anchors_run
  evals = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl")) if '"eval"' in l]
  assert len(evals) == config.num_epochs
  for t in range(2):
    best = min(evals, key=lambda e: e["val_losses"][t][t])  # network t on task t
    assert results["anchors"][t] == pytest.approx(best["test_losses"][t][t])
    assert results["anchor_accuracies"][t] == pytest.approx(best["test_accuracies"][t][t])
  assert results["anchor_hypervolume"] == pytest.approx(
      metrics.hypervolume(np.asarray(results["anchors"])[None], (2.0, 2.0)))
  assert results["num_params"] == {"target": 31_910, "total": 63_820}


def test_vmapped_training_equals_training_each_task_alone(anchors_run):
  config, workdir, _ = anchors_run
  from hyperjax import data as data_lib  # pylint: disable=g-import-not-at-top
  train_x, train_y = data_lib.load_multi(config.data).train
  target = make_target("phn_lenet", conv_impl="patches")
  optimizer = optax.adam(config.optimizer.learning_rate)
  num_steps = config.num_epochs * pipeline.steps_per_epoch(len(train_x), config.batch_size)
  checkpointer = Checkpointer(workdir)
  keys = jax.random.split(jax.random.key(config.seed), 2)
  stacked = jax.vmap(target.init_weights)(keys)
  abstract = {"params": stacked, "opt_state": optimizer.init(stacked)}
  final = checkpointer.restore(abstract, num_steps)["params"]
  checkpointer.close()
  for t in range(2):
    weights = target.init_weights(keys[t])
    opt_state = optimizer.init(weights)
    objective = per_head_cross_entropy()  # the loss written out independently of the step
    grad = jax.jit(jax.grad(lambda w, x, y: objective(target.apply(w, x), (x, y))[0][t]))
    for step in range(num_steps):
      sel = pipeline.batch_indices(len(train_x), config.batch_size, config.seed, step)
      updates, opt_state = optimizer.update(grad(weights, train_x[sel], train_y[sel]), opt_state)
      weights = optax.apply_updates(weights, updates)
    # Adam divides by the gradient's running RMS, so float-rounding differences between the
    # vmapped and the single-task gradients (summation order) move a weight whose gradient
    # is near 0 by up to ~lr per step: compare to 0.1 x the learning rate.
    chex.assert_trees_all_close(jax.tree.map(lambda w: w[t], final), weights, rtol=1e-4,
                                atol=0.1 * config.optimizer.learning_rate)
