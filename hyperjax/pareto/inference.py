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

from hyperjax.pareto import rays as rays_lib
from hyperjax.pareto import trainer
from hyperjax.pareto.step import target_outputs
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
    images = jnp.asarray(images)
    self._check_images(images)
    weights = self.weights(rays)
    if not self.target.has_state:
      return jax.vmap(lambda w: target_outputs(self.target, w, images, train=False))(weights)
    if calibration is None:
      raise ValueError(f"{self.target.name} has BatchNorm statistics: pass calibration= a few "
                       "training batches [num_batches, batch, ...] to compute each ray's.")
    states = calibrate_states(self.target, weights, calibration)
    return jax.vmap(lambda w, s: self.target.apply(w, images, state=s, train=False))(
        weights, states)


  def _check_images(self, images: jax.Array) -> None:
    """``images`` must be ``[batch, *input_shape]`` of the target the run trained."""
    expected = self.target.input_shape
    if expected is None or tuple(images.shape[1:]) == tuple(expected):
      return
    if tuple(images.shape) == tuple(expected):
      raise ValueError(f"predict got one image of shape {tuple(images.shape)}; add a batch axis "
                       f"(images[None]) to give [batch, {', '.join(map(str, expected))}].")
    raise ValueError(f"predict got images of shape {tuple(images.shape)}; {self.target.name} was "
                     f"trained on [batch, {', '.join(map(str, expected))}]: resize or pad them "
                     "to that shape.")


def load_pareto_model(workdir: str, which: str = "best", target: Any = None) -> ParetoModel:
  """Loads a Pareto run (built-in or :func:`~hyperjax.pareto.train_front`) from its workdir.

  The target is rebuilt from the run's config (a registered name or an import path);
  a run whose target cannot be imported in a fresh process (a module class defined in
  a notebook or a ``__main__`` script, or a :class:`~hyperjax.target.Target` object)
  needs it again as ``target=``.

  Args:
    workdir: the ``--workdir`` of a Pareto run.
    which: ``'best'`` (the checkpoint of the best validation hypervolume; the latest when
      the run had no validation split) or ``'latest'``.
    target: the run's target (module, Target or name), when it cannot be rebuilt.
  """
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    raise FileNotFoundError(f"{workdir} holds no hyperjax run (no config.json).")
  with open(path) as f:
    config = ml_collections.ConfigDict(json.load(f))
  if config.get("experiment") != "pareto":
    raise ValueError(f"{workdir} holds a {config.get('experiment')!r} run, not a Pareto run.")
  if which not in ("best", "latest"):
    raise ValueError(f"which must be 'best' or 'latest', got {which!r}.")
  block = config.target.to_dict()
  shape = tuple(block["input_shape"]) if block.get("input_shape") else None
  if target is None:
    if not block.get("name"):
      raise ValueError(f"The target of {workdir} ({block.get('class', 'a custom Target')}) cannot "
                       "be imported in a new process; pass it again: "
                       "load_pareto_model(workdir, target=...).")
    target = block
  target, _ = trainer.resolve_target(target, shape)
  hnet, variables = trainer.build_pareto_hypernet(config.hypernet.to_dict(), target, config.seed,
                                                  config.ray_alpha, config.num_objectives)
  subdir = "best" if which == "best" and os.path.isdir(os.path.join(workdir, "best")) \
      else "checkpoints"
  checkpointer = Checkpointer(workdir, subdir=subdir)
  step = checkpointer.latest_step()
  if step is None:
    checkpointer.close()
    raise FileNotFoundError(f"{workdir}/{subdir} has no checkpoint yet.")
  params = checkpointer.restore(None, step)["params"]
  checkpointer.close()
  shapes = lambda tree: [tuple(x.shape) for x in jax.tree.leaves(tree)]
  same_tree = jax.tree.structure(variables) == jax.tree.structure(params)  # type: ignore[operator]
  if not same_tree or (
      shapes(variables) != shapes(params)):
    raise ValueError(f"The checkpoint in {workdir}/{subdir} does not fit the hypernetwork its "
                     "config describes (was the target passed here the one it was trained on?).")
  return ParetoModel(config, target, hnet, params, step)
