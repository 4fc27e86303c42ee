"""One target network per fixed preference, trained with the linear scalarised loss.

The classic way to get ``K`` trade-offs without a hypernetwork: train ``K`` copies of the
target, copy ``k`` on ``sum_i r_k,i l_i``. All copies train in one compiled step
(``jax.vmap`` over the copies, each with its own dropout masks; Adam and RMSprop are
elementwise, so this equals ``K`` separate runs). Each copy is selected by its own
validation scalarised loss; the results are every copy's train / validation / test
losses and accuracies at that evaluation and the hypervolume of the ``K`` test points.
With one-hot preferences this is the single-task anchors of a Pareto benchmark
(:mod:`hyperjax.experiments.single_task`).

  python -m launch.train --config=configs/student_cnn_study.py:separate --workdir=runs/student_separate

References:
  Lin, Zhen, Li, Zhang, Kwong, NeurIPS 2019 (ParetoMTL's Multi-MNIST protocol and its
  linear-scalarisation baseline); Navon et al., ICLR 2021 (single-task baselines).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from hyperjax import builders
from hyperjax import data as data_lib
from hyperjax.data import pipeline
from hyperjax.pareto import evaluate as evaluate_lib
from hyperjax.pareto import metrics
from hyperjax.pareto.objectives import evaluate_objective, per_head_cross_entropy
from hyperjax.pareto.rays import validate_rays
from hyperjax.pareto.step import target_outputs
from hyperjax.training import loop
from hyperjax.training.step import init_train_state, make_train_step

STRUCTURAL_KEYS = ("data.name", "target", "seed", "batch_size", "num_objectives", "preferences")


class _Select:
  """Evaluates ``K`` stacked models through the front evaluator: the one-hot "ray" ``e_k``
  of length ``K`` picks model ``k`` exactly (``sum_s e_k[s] w_s``)."""

  @staticmethod
  def apply(stacked, selector):
    return jax.tree.map(lambda w: jnp.tensordot(selector, w, 1), stacked)


def train_networks(config: ml_collections.ConfigDict, workdir: str, preferences: np.ndarray,
                   summarize: Callable[[list[dict], Any, Any], dict], label: str,
                   structural_keys: tuple[str, ...] = STRUCTURAL_KEYS) -> dict:
  """Trains one copy of ``config.target`` per row of ``preferences [K, m]`` on
  ``sum_i r_k,i l_i`` and returns ``summarize(evaluations, dataset, target)``.

  Every evaluation records, per split (``train`` too when ``config.eval_train``),
  ``<split>_losses`` and ``<split>_accuracies`` ``[K, m]``.
  """
  dataset = data_lib.load_multi(config.data)
  target = builders.build_target(config.target)
  if target.has_state:
    raise ValueError(f"{label} supports targets without BatchNorm; {target.name} has "
                     "statistics.")
  k = len(preferences)
  train_x, train_y = dataset.train
  print(f"{label} | {k} x target {target.name}: {target.num_params:,} params | data "
        f"{dataset.name} from {dataset.source}: {len(train_x):,} train / "
        f"{len(dataset.val[0]):,} val / {len(dataset.test[0]):,} test")

  optimizer = builders.build_optimizer(config.optimizer)
  objective = per_head_cross_entropy()
  prefs = jnp.asarray(preferences, jnp.float32)
  base_key = jax.random.key(config.seed + 2)

  def scalarised(weights, pref, rng, images, labels):
    outputs = target_outputs(target, weights, images, True, rng)
    losses, scores = evaluate_objective(objective, outputs, (images, labels))
    return jnp.dot(pref, losses), (losses, scores["accuracy"])

  def grad_fn(params, state, images, labels, rng):
    del state
    grads, (losses, accs) = jax.vmap(jax.grad(scalarised, has_aux=True),
                                     in_axes=(0, 0, 0, None, None))(
        params, prefs, jax.random.split(rng, k), images, labels)
    scalars = {f"loss_{j}": jnp.mean(losses[:, j]) for j in range(losses.shape[1])}
    scalars.update({f"accuracy_{j}": jnp.mean(accs[:, j]) for j in range(accs.shape[1])})
    return grads, scalars, {}

  step = make_train_step(optimizer, grad_fn=grad_fn)
  steps_per_epoch = pipeline.steps_per_epoch(len(train_x), config.batch_size)
  evaluator = evaluate_lib.make_front_evaluator(_Select, target, config.eval_batch_size)
  selectors = jnp.eye(k)
  splits = (["train"] if config.get("eval_train") else []) + ["val", "test"]

  def train_step(state, i):
    sel = pipeline.batch_indices(len(train_x), config.batch_size, config.seed, i)
    return step(state, train_x[sel], train_y[sel], jax.random.fold_in(base_key, i))

  def evaluate(state, i):
    record: dict[str, Any] = {"epoch": i // steps_per_epoch}
    for split in splits:
      losses, scores = evaluator(state["params"], selectors, getattr(dataset, split))
      record[f"{split}_losses"] = np.asarray(losses)
      record[f"{split}_accuracies"] = np.asarray(scores["accuracy"])
    record["val_score"] = -float(np.mean(np.sum(record["val_losses"] * preferences, axis=1)))
    return record

  def init_state():
    keys = jax.random.split(jax.random.key(config.seed), k)
    return init_train_state(optimizer, jax.vmap(target.init_weights)(keys))

  experiment = loop.Experiment(
      init_state=init_state, train_step=train_step, evaluate=evaluate,
      summarize=lambda state, evaluations: summarize(evaluations, dataset, target),
      num_steps=config.num_epochs * steps_per_epoch,
      eval_every=config.eval_every_epochs * steps_per_epoch, log_every=config.log_every,
      best_key="val_score",
      description=f"train {k} networks (loss_<task>, accuracy_<task>: means over them)")
  return loop.run(experiment, workdir, config, structural_keys)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains one network per ``config.preferences`` row; writes each one's accuracies."""
  preferences = validate_rays(np.asarray(config.preferences, np.float64), config.num_objectives)
  splits = (["train"] if config.get("eval_train") else []) + ["val", "test"]

  def summarize(evaluations, dataset, target):
    val = np.array([np.sum(np.asarray(e["val_losses"]) * preferences, axis=1)
                    for e in evaluations])
    best = np.argmin(val, axis=0)  # per network: its lowest validation scalarised loss
    results: dict[str, Any] = {
        "experiment": "fixed_preferences", "preferences": preferences,
        "best_epochs": [evaluations[b]["epoch"] for b in best],
        "reference_point": list(config.reference_point),
        "num_params": {"target": target.num_params, "total": len(preferences) * target.num_params},
        "data_source": dataset.source, "dataset": dataset.name, "epochs": config.num_epochs,
        "config": config.to_dict()}
    for split in splits:
      for what in ("losses", "accuracies"):
        results[f"{split}_{what}"] = np.array(
            [np.asarray(evaluations[b][f"{split}_{what}"])[j] for j, b in enumerate(best)])
    results["hypervolume"] = metrics.hypervolume(results["test_losses"], config.reference_point)
    results["mean_test_accuracy"] = results["test_accuracies"].mean(axis=1)
    return results

  results = train_networks(config, workdir, preferences, summarize, "fixed preferences")
  for j, pref in enumerate(results["preferences"]):
    print(f"  preference {[round(float(v), 3) for v in pref]}: " + ", ".join(
        f"{s} accuracy " + "/".join(f"{a:.4f}" for a in results[f"{s}_accuracies"][j])
        for s in splits))
  print(f"hypervolume of the {len(preferences)} test points {results['hypervolume']:.4f} "
        f"(ref {tuple(config.reference_point)})")
  return results
