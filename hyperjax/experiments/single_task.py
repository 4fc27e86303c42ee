"""Single-task anchors of a Pareto benchmark: one target per task, trained on it alone.

A Pareto front's hypervolume only means something next to the point of the single-task
models (REFERENCE: report a single-task anchor in every table): no model on the front
can beat task ``i``'s own network on task ``i``. Here the same target network (e.g. the
PHN LeNet) is trained directly, one copy per task, each on its task's loss only; all
copies train in one compiled step (``jax.vmap`` over tasks; Adam is elementwise, so this
equals separate runs): :mod:`hyperjax.experiments.fixed_preferences` with one-hot
preferences. Each task's model is selected by its validation loss; the
results are the test losses and accuracies of those models (the *anchors*), and the
hypervolume of the anchor point.

  python -m launch.train --config=configs/phn_multi_mnist.py:single_task --workdir=runs/anchors_mm

References:
  Navon et al., ICLR 2021 (single-task baselines in the PHN figures);
  Lin et al., NeurIPS 2019 (ParetoMTL's Multi-MNIST protocol).
"""

from __future__ import annotations

import ml_collections
import numpy as np

from hyperjax.experiments.fixed_preferences import train_networks
from hyperjax.pareto import metrics

STRUCTURAL_KEYS = ("data.name", "target", "seed", "batch_size", "num_objectives")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains one target per task on that task alone; writes the anchors."""
  m = config.num_objectives

  def summarize(evaluations, dataset, target):
    val = np.array([np.diag(e["val_losses"]) for e in evaluations])
    best = np.argmin(val, axis=0)  # per task: the evaluation with its lowest validation loss
    anchors = np.array([np.asarray(evaluations[b]["test_losses"])[t, t]
                        for t, b in enumerate(best)])
    accuracies = np.array([np.asarray(evaluations[b]["test_accuracies"])[t, t]
                           for t, b in enumerate(best)])
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

  results = train_networks(config, workdir, np.eye(m), summarize, "single-task anchors",
                           STRUCTURAL_KEYS)
  print("anchors (test loss per task): " + ", ".join(f"{a:.4f}" for a in results["anchors"]) +
        "; accuracies " + ", ".join(f"{a:.4f}" for a in results["anchor_accuracies"]) +
        f"; anchor hypervolume {results['anchor_hypervolume']:.4f} "
        f"(ref {tuple(config.reference_point)})")
  return results
