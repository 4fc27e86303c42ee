"""Pareto front learning: rays, objectives, solvers, hypervolume, the compiled step,
evaluation, plots, :func:`train_front` and :func:`load_pareto_model`."""

from hyperjax.pareto.evaluate import front_summary, make_front_evaluator
from hyperjax.pareto.inference import ParetoModel, load_pareto_model
from hyperjax.pareto.metrics import hypervolume, non_uniformity, uniformity
from hyperjax.pareto.objectives import (OBJECTIVES, Objective, make_objective,
                                        per_head_cross_entropy, per_output_mse)
from hyperjax.pareto.rays import RayError, evaluation_rays, sample_rays, validate_rays
from hyperjax.pareto.solvers import (SOLVERS, Solver, chebyshev, cpmtl, epo, ls, make_solver,
                                     simplex_lp)
from hyperjax.pareto.step import RAY_BATCHING, make_pareto_step
from hyperjax.pareto.trainer import train_front

__all__ = [
    "OBJECTIVES", "Objective", "ParetoModel", "RAY_BATCHING", "RayError", "SOLVERS", "Solver",
    "chebyshev", "cpmtl", "epo", "evaluation_rays", "front_summary", "hypervolume",
    "load_pareto_model", "ls", "make_front_evaluator", "make_objective", "make_pareto_step",
    "make_solver", "non_uniformity", "per_head_cross_entropy", "per_output_mse", "sample_rays",
    "simplex_lp", "train_front", "uniformity", "validate_rays",
]
