"""Load a trained Pareto workdir and get target weights (or predictions) for any rays.

  model = hyperjax.pareto.load_pareto_model("runs/phn_multi_mnist_ls")
  weights = model.weights([[0.3, 0.7], [0.9, 0.1]])  # leaves [2, *leaf.shape]
  logits = model.predict([0.5, 0.5], images)        # per task: [1, batch, classes]
"""

from __future__ import annotations

import json
import os
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import optax

from hyperjax.pareto import rays as rays_lib
from hyperjax.target import calibrate_states
from hyperjax.training.checkpoint import Checkpointer


class ParetoModel:
  """A trained Pareto hypernetwork: rays in, target weights or predictions out.

  Attributes:
    config: the run's config.
    target: the :class:`~hyperjax.target.Target`.
    hnet: the hypernetwork module.
    variables: its trained variables.
    step: the training step they come from.
  """

  def __init__(self, config: ml_collections.ConfigDict, target, hnet, variables, step: int):
    self.config, self.target, self.hnet, self.variables, self.step = (
        config, target, hnet, variables, step)
    self._generate = jax.jit(jax.vmap(hnet.apply, in_axes=(None, 0)))

  @property
  def num_objectives(self) -> int:
    return self.config.num_objectives

  def weights(self, rays) -> Any:
    """Target weights for ``rays [n, m]`` (or one ray ``[m]``): leaves ``[n, *shape]``."""
    rays = rays_lib.validate_rays(rays, self.num_objectives)
    return self._generate(self.variables, jnp.asarray(rays))

  def predict(self, rays, images, calibration=None) -> Any:
    """Per-task logits ``[n, batch, classes]`` of the models for ``rays`` on ``images``.

    Targets with BatchNorm need ``calibration``: a few training batches
    ``[num_batches, batch, ...]`` from which each ray's model gets its own population
    statistics (:func:`hyperjax.calibrate_states`).
    """
    weights = self.weights(rays)
    images = jnp.asarray(images)
    if not self.target.has_state:
      return jax.vmap(lambda w: self.target.apply(w, images))(weights)
    if calibration is None:
      raise ValueError(f"{self.target.name} has BatchNorm statistics: pass calibration= a few "
                       "training batches [num_batches, batch, ...] to compute each ray's.")
    states = calibrate_states(self.target, weights, calibration)
    return jax.vmap(lambda w, s: self.target.apply(w, images, state=s, train=False))(
        weights, states)


def load_pareto_model(workdir: str, which: str = "best") -> ParetoModel:
  """Loads a Pareto run from its workdir.

  Args:
    workdir: the ``--workdir`` of a ``launch.train`` Pareto run.
    which: ``'best'`` (the checkpoint of the best validation hypervolume) or ``'latest'``.
  """
  from hyperjax.experiments import pareto  # pylint: disable=g-import-not-at-top
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise FileNotFoundError(f"{workdir} holds no hyperjax run (no config.json).")
  with open(path) as f:
    config = ml_collections.ConfigDict(json.load(f))
  if config.get("experiment") != "pareto":
    raise ValueError(f"{workdir} holds a {config.get('experiment')!r} run, not a Pareto run.")
  if which not in ("best", "latest"):
    raise ValueError(f"which must be 'best' or 'latest', got {which!r}.")
  target, hnet, variables = pareto.build_model(config)
  subdir = "best" if which == "best" else "checkpoints"
  checkpointer = Checkpointer(workdir, subdir=subdir)
  step = checkpointer.latest_step()
  if step is None:
    raise FileNotFoundError(f"{workdir}/{subdir} has no checkpoint yet.")
  abstract = {"params": variables, "opt_state": optax.adam(1.0).init(variables)}
  state = checkpointer.restore(abstract, step)
  checkpointer.close()
  return ParetoModel(config, target, hnet, state["params"], step)
