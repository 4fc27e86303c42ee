"""Pareto front learning: rays, solvers, hypervolume, the compiled step, evaluation, plots."""

from hyperjax.pareto.evaluate import front_summary, make_front_evaluator
from hyperjax.pareto.inference import ParetoModel, load_pareto_model
from hyperjax.pareto.metrics import hypervolume, non_uniformity, uniformity
from hyperjax.pareto.rays import RayError, evaluation_rays, sample_rays, validate_rays
from hyperjax.pareto.solvers import SOLVERS, chebyshev, cpmtl, epo, linear_scalarization, simplex_lp
from hyperjax.pareto.step import RAY_BATCHING, make_train_step, task_losses

__all__ = [
    "RAY_BATCHING", "RayError", "SOLVERS", "chebyshev", "cpmtl", "epo", "evaluation_rays",
    "ParetoModel", "front_summary", "hypervolume", "load_pareto_model", "linear_scalarization", "make_front_evaluator",
    "make_train_step", "non_uniformity", "sample_rays", "simplex_lp", "task_losses", "uniformity",
    "validate_rays",
]
