"""Single-task anchors of a Pareto benchmark: one target per task, trained on it alone.

A Pareto front's hypervolume only means something next to the point of the single-task
models (REFERENCE: report a single-task anchor in every table): no model on the front
can beat task ``i``'s own network on task ``i``. Here the same target network (e.g. the
PHN LeNet) is trained directly, one copy per task, each on its task's loss only; all
copies train in one compiled step (``jax.vmap`` over tasks; Adam is elementwise, so this
equals separate runs). Each task's model is selected by its validation loss; the
results are the test losses and accuracies of those models (the *anchors*), and the
hypervolume of the anchor point.

  python -m launch.train --config=configs/phn_multi_mnist.py:single_task --workdir=runs/anchors_mm

References:
  Navon et al., ICLR 2021 (single-task baselines in the PHN figures);
  Lin et al., NeurIPS 2019 (ParetoMTL's Multi-MNIST protocol).
"""

from __future__ import annotations

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
from hyperjax.training import loop
from hyperjax.training.step import init_train_state, make_train_step

STRUCTURAL_KEYS = ("data.name", "target", "seed", "batch_size", "num_objectives")


class _SelectTask:
  """Evaluates stacked per-task models through the front evaluator: one-hot ray ``e_t``
  picks model ``t`` exactly (``sum_s e_t[s] w_s``)."""

  @staticmethod
  def apply(stacked, ray):
    return jax.tree.map(lambda w: jnp.tensordot(ray, w, 1), stacked)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains one target per task on that task alone; writes the anchors."""
  dataset = data_lib.load_multi(config.data)
  m = config.num_objectives
  target = builders.build_target(config.target)
  if target.has_state:
    raise ValueError(f"single_task anchors support targets without BatchNorm; {target.name} "
                     "has statistics.")
  train_x, train_y = dataset.train
  print(f"single-task anchors | {m} x target {target.name}: {target.num_params:,} params | data "
        f"{dataset.name} from {dataset.source}: {len(train_x):,} train / "
        f"{len(dataset.val[0]):,} val / {len(dataset.test[0]):,} test")

  optimizer = builders.build_optimizer(config.optimizer)
  objective = per_head_cross_entropy()
  onehots = jnp.eye(m)

  def task_loss(weights, task, images, labels):
    losses, scores = evaluate_objective(objective, target.apply(weights, images),
                                        (images, labels))
    return jnp.dot(task, losses), (losses, scores["accuracy"])

  def grad_fn(params, state, images, labels):
    del state
    grads, (losses, accs) = jax.vmap(jax.grad(task_loss, has_aux=True),
                                     in_axes=(0, 0, None, None))(params, onehots, images, labels)
    scalars = {f"loss_{t}": losses[t, t] for t in range(m)}
    scalars.update({f"accuracy_{t}": accs[t, t] for t in range(m)})
    return grads, scalars, {}

  step = make_train_step(optimizer, grad_fn=grad_fn)
  steps_per_epoch = pipeline.steps_per_epoch(len(train_x), config.batch_size)
  evaluator = evaluate_lib.make_front_evaluator(_SelectTask, target, config.eval_batch_size)

  def train_step(state, i):
    sel = pipeline.batch_indices(len(train_x), config.batch_size, config.seed, i)
    return step(state, train_x[sel], train_y[sel])

  def evaluate(state, i):
    record = {"epoch": i // steps_per_epoch}
    for split in ("val", "test"):
      losses, scores = evaluator(state["params"], onehots, getattr(dataset, split))
      record[f"{split}_losses"] = np.diag(losses)
      record[f"{split}_accuracies"] = np.diag(scores["accuracy"])
    record["val_score"] = -float(np.mean(record["val_losses"]))
    return record

  def summarize(state, evaluations):
    del state
    val = np.array([e["val_losses"] for e in evaluations])
    best = np.argmin(val, axis=0)  # per task: the evaluation with its lowest validation loss
    anchors = np.array([evaluations[b]["test_losses"][t] for t, b in enumerate(best)])
    accuracies = np.array([evaluations[b]["test_accuracies"][t] for t, b in enumerate(best)])
    return {
        "experiment": "single_task",
        "anchors": anchors,
        "anchor_accuracies": accuracies,
        "anchor_hypervolume": metrics.hypervolume(anchors[None], config.reference_point),
        "reference_point": list(config.reference_point),
        "best_epochs": [evaluations[b]["epoch"] for b in best],
        "num_params": {"target": target.num_params, "total": m * target.num_params},
        "data_source": dataset.source,
        "dataset": dataset.name,
        "epochs": config.num_epochs,
        "config": config.to_dict(),
    }

  def init_state():
    keys = jax.random.split(jax.random.key(config.seed), m)
    return init_train_state(optimizer, jax.vmap(target.init_weights)(keys))

  experiment = loop.Experiment(init_state=init_state, train_step=train_step, evaluate=evaluate,
                               summarize=summarize,
                               num_steps=config.num_epochs * steps_per_epoch,
                               eval_every=config.eval_every_epochs * steps_per_epoch,
                               log_every=config.log_every, best_key="val_score")
  results = loop.run(experiment, workdir, config, STRUCTURAL_KEYS)
  print("anchors (test loss per task): " + ", ".join(f"{a:.4f}" for a in results["anchors"]) +
        "; accuracies " + ", ".join(f"{a:.4f}" for a in results["anchor_accuracies"]) +
        f"; anchor hypervolume {results['anchor_hypervolume']:.4f} "
        f"(ref {tuple(config.reference_point)})")
  return results
