"""Pareto front learning on synthetic problems with known fronts: an oracle for solvers.

The hypernetwork maps a ray to a decision vector (:class:`hyperjax.targets.DecisionVector`);
every evaluation scores the learned front against the true one
(:mod:`hyperjax.pareto.problems`): generational distance (``gd``: how far the points lie
from the front), inverted generational distance (``igd``: how well they cover it),
hypervolume over the true front's (``hv_ratio``), and the angle between each point and
its ray (``mean_ray_angle`` / ``max_ray_angle``, degrees: what EPO aims to make 0).

References:
  Mahapatra & Rajan, ICML 2020; Navon et al., ICLR 2021 (the toy problem and protocol);
  Zitzler, Deb & Thiele 2000 (ZDT); Deb, Thiele, Laumanns & Zitzler 2005 (DTLZ).
"""

from __future__ import annotations

import ml_collections
import numpy as np

from hyperjax.pareto import metrics, problems, trainer
from hyperjax.pareto.trainer import STRUCTURAL_KEYS  # noqa: F401  (the launcher reads it)

TRUE_FRONT_POINTS = 2000


def front_scores(problem: problems.Problem):
  """``(losses [E, m], rays [E, m]) -> {gd, igd, hv_ratio, mean_ray_angle, max_ray_angle}``."""
  true = problem.true_front(TRUE_FRONT_POINTS)

  def scores(losses, rays):
    angles = metrics.ray_angles(losses, rays)
    return {"gd": metrics.generational_distance(losses, true),
            "igd": metrics.inverted_generational_distance(losses, true),
            "hv_ratio": metrics.hypervolume(losses, problem.reference_point)
                        / problem.true_hypervolume,
            "mean_ray_angle": float(np.mean(angles)), "max_ray_angle": float(np.max(angles))}

  return scores


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains a Pareto hypernetwork on ``config.problem`` and reports its distances to the
  true front (:func:`hyperjax.pareto.train_front` with the problem as objective)."""
  problem = problems.make_problem(config.problem.name, **dict(config.problem.kwargs))
  if config.num_steps < 1:
    raise ValueError(f"num_steps must be positive, got {config.num_steps}.")
  # The objective reads only the generated x: one constant example per split.
  example = (np.zeros((1, 1), np.float32),)
  results = trainer.train_front(
      workdir, target={"name": "decision_vector", "kwargs": {"dim": problem.dim}},
      data={"train": example, "val": example, "test": example},
      objective=problems.problem_objective(problem), num_objectives=problem.num_objectives,
      hypernet=config.hypernet.to_dict(), solver=config.solver.to_dict(),
      optimizer=config.optimizer.to_dict(), batch_size=1, num_steps=config.num_steps,
      eval_every=config.eval_every, log_every=config.log_every, num_rays=config.num_rays,
      ray_alpha=config.ray_alpha, ray_batching="whole", num_eval_rays=config.num_eval_rays,
      reference_point=problem.reference_point, seed=config.seed, mesh=config.mesh,
      title=f"{config.solver.name.upper()} on {problem.name}", config=config,
      dataset_name=problem.name, data_source="synthetic",
      front_metrics=front_scores(problem))
  print(f"{problem.name}: GD {results['test_gd']:.4f}, IGD {results['test_igd']:.4f}, "
        f"HV / true HV {results['test_hv_ratio']:.4f}, ray angle mean "
        f"{results['test_mean_ray_angle']:.2f} / max {results['test_max_ray_angle']:.2f} deg")
  return results
