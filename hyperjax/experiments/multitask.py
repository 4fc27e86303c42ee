"""Task-conditioned hypernetworks trained jointly on several tasks.

A learned task embedding (LayerNorm without affine parameters, as in Cubelier 2022)
goes through a hypernetwork family (MLP or chunked) that returns all the weights of a
target network; every step trains all tasks at once (``jax.vmap`` over task ids, one
batch per task). Benchmarks: split MNIST (5 tasks of 2 digits, multi-head) and
permuted MNIST.

References:
  von Oswald, Henning, Grewe, Sacramento. "Continual learning with hypernetworks",
  ICLR 2020 (task-conditioned hypernetworks).
  Cubelier. "Sparse hypernetworks", MSc thesis, Liege 2022 (joint multi-task protocol).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from hyperjax import data as data_lib
from hyperjax.data import pipeline, tasks as tasks_lib
from hyperjax.hypernets import Conditioner, init_hypernet, make_hypernet
from hyperjax.hypernets.factory import as_kwargs
from hyperjax.targets import make_target
from hyperjax.training import loop

STRUCTURAL_KEYS = ("data.name", "tasks", "target", "hypernet", "seed")


def load_tasks(config: ml_collections.ConfigDict) -> tuple[tasks_lib.TaskSet, str]:
  """The task set of the config and the data source used."""
  data = config.data
  dataset = data_lib.load_dataset(data.name, data.source, data.idx_dir, data.allow_embedded,
                                  tfds_data_dir=data.tfds_data_dir,
                                  tfds_download=data.tfds_download)
  taskset = tasks_lib.build_tasks(config.tasks.kind, dataset.train, dataset.test,
                                  dataset=data.name, classes_per_task=config.tasks.classes_per_task,
                                  num_tasks=config.tasks.num_tasks, seed=config.seed)
  return taskset, dataset.source


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains a task-conditioned hypernetwork on all tasks jointly; returns results."""
  if not (config.learning_rate > 0 and np.isfinite(config.learning_rate)):
    raise ValueError(f"learning_rate must be a positive finite number, got {config.learning_rate}.")
  taskset, source = load_tasks(config)
  num_tasks = taskset.num_tasks
  sample_shape = taskset.train[0][0].shape[1:]
  target = make_target(config.target.name, input_shape=sample_shape,
                       num_outputs=taskset.num_classes, **as_kwargs(config.target.kwargs))
  conditioner = Conditioner(num_embeddings=num_tasks, embedding_dim=config.hypernet.embedding_dim,
                            normalize=True)
  hnet = make_hypernet(config.hypernet.family, target.spec, conditioner,
                       **as_kwargs(config.hypernet.kwargs))
  hnet, variables = init_hypernet(hnet, jax.random.key(config.seed), jnp.arange(num_tasks),
                                  config.hypernet.init, config.hypernet.init_scale)
  optimizer = optax.adam(config.learning_rate)
  num_hnet_params = sum(x.size for x in jax.tree.leaves(variables))
  print(f"target {target.name}: {target.num_params:,} params per task; hypernet "
        f"{config.hypernet.family}: {num_hnet_params:,} params; {num_tasks} tasks; data: {source}")

  batch = config.batch_size
  train_sizes = [len(t[0]) for t in taskset.train]
  for size in train_sizes:
    pipeline.steps_per_epoch(size, batch)
  train_x = [jnp.asarray(x) for x, _ in taskset.train]
  train_y = [jnp.asarray(y) for _, y in taskset.train]

  def task_loss(params, task, x, y):
    weights = hnet.apply(params, task)
    logits = target.apply(weights, x)
    return cross_entropy(logits, y), jnp.mean(jnp.argmax(logits, -1) == y)

  @functools.partial(jax.jit, donate_argnums=0)
  def update(state, xs, ys):
    def loss_fn(params):
      losses, accs = jax.vmap(task_loss, in_axes=(None, 0, 0, 0))(
          params, jnp.arange(num_tasks), xs, ys)
      return jnp.mean(losses), accs
    (loss, accs), grads = jax.value_and_grad(loss_fn, has_aux=True)(state["params"])
    updates, opt_state = optimizer.update(grads, state["opt_state"], state["params"])
    params = optax.apply_updates(state["params"], updates)
    return {"params": params, "opt_state": opt_state}, {"loss": loss, "accuracy": jnp.mean(accs)}

  def train_step(state, step):
    picks = [pipeline.batch_indices(n, batch, config.seed + t, step)
             for t, n in enumerate(train_sizes)]
    xs = jnp.stack([x[p] for x, p in zip(train_x, picks)])
    ys = jnp.stack([y[p] for y, p in zip(train_y, picks)])
    return update(state, xs, ys)

  @jax.jit
  def correct_count(params, task, x, y, mask):
    logits = target.apply(hnet.apply(params, task), x)
    return jnp.sum((jnp.argmax(logits, -1) == y) * mask)

  def evaluate(state, step):
    del step
    accuracies = []
    for task, (x, y) in enumerate(taskset.test):
      correct = 0
      for sel, mask in pipeline.padded_batches(len(x), config.eval_batch_size):
        correct += int(correct_count(state["params"], jnp.asarray(task), x[sel], y[sel], mask))
      accuracies.append(correct / len(x))
    return {"test_accuracy": float(np.mean(accuracies)), "test_accuracies": accuracies}

  def init_state():
    return {"params": variables, "opt_state": optimizer.init(variables)}

  def summarize(state, evaluations):
    del state
    final = evaluations[-1]
    return {
        "experiment": "multitask",
        "tasks": taskset.kind,
        "task_classes": taskset.classes,
        "test_accuracies": final["test_accuracies"],
        "test_accuracy": final["test_accuracy"],
        "num_params": {"hypernet": num_hnet_params, "target": target.num_params,
                       "independent_networks": num_tasks * target.num_params},
        "data_source": source,
        "config": config.to_dict(),
    }

  experiment = loop.Experiment(init_state=init_state, train_step=train_step, evaluate=evaluate,
                               summarize=summarize, num_steps=config.num_steps,
                               eval_every=config.eval_every, log_every=config.log_every)
  return loop.run(experiment, workdir, config, STRUCTURAL_KEYS)
