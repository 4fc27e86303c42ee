"""Task-conditioned hypernetworks trained jointly on several tasks.

A learned task embedding (LayerNorm without affine parameters, as in Cubelier 2022)
goes through a hypernetwork family (linear, MLP, chunked, sparse, or one independent
network per task as the no-sharing baseline) that returns all the weights of a target
network. ``task_sampling='all'`` trains every task at each step (``jax.vmap`` over task
ids, or one copy per task on CPU: :func:`all_task_losses`; one batch per task);
``'cycle'`` trains one task per step in turn (the thesis's one task per batch). With
``tasks.holdout`` set, that task is left out of training and a model for it is then
inferred by learning only its embedding, few-shot (:mod:`hyperjax.experiments.new_task`).
Benchmarks: split MNIST, permuted MNIST, split CIFAR-10 / CIFAR-100
(:mod:`hyperjax.experiments.multitask_configs`).

References:
  von Oswald, Henning, Grewe, Sacramento. "Continual learning with hypernetworks",
  ICLR 2020 (task-conditioned hypernetworks).
  Cubelier. "Sparse hypernetworks", MSc thesis, Liege 2022 (joint multi-task protocol).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from hyperjax import builders
from hyperjax import data as data_lib
from hyperjax.data import pipeline, tasks as tasks_lib
from hyperjax.experiments import new_task
from hyperjax.training import evaluation, loop, sharding
from hyperjax.training.step import make_train_step

STRUCTURAL_KEYS = ("data.name", "tasks", "target", "hypernet", "seed", "task_sampling")
TASK_SAMPLING = ("all", "cycle")


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


def build_target(config: ml_collections.ConfigDict, taskset: tasks_lib.TaskSet):
  """The target network of the config, with one logit per class of a task."""
  return builders.build_target(config.target, input_shape=taskset.train[0][0].shape[1:],
                               num_outputs=taskset.num_classes)


def training_task_ids(config: ml_collections.ConfigDict, num_tasks: int) -> list[int]:
  """All task ids but ``config.tasks.holdout`` (when set)."""
  holdout = config.tasks.get("holdout")
  if holdout is None:
    return list(range(num_tasks))
  if not 0 <= holdout < num_tasks:
    raise ValueError(f"tasks.holdout={holdout} is not a task id (0..{num_tasks - 1}).")
  if num_tasks < 2:
    raise ValueError("tasks.holdout needs at least 2 tasks.")
  return [t for t in range(num_tasks) if t != holdout]


def validate_config(config: ml_collections.ConfigDict) -> None:
  if config.get("task_sampling", "all") not in TASK_SAMPLING:
    raise ValueError(f"Unknown task_sampling {config.task_sampling!r}; choose one of "
                     f"{', '.join(TASK_SAMPLING)}.")
  if config.tasks.get("holdout") is not None:
    if "new_task" not in config:
      raise ValueError("tasks.holdout is set but the config has no new_task block (shots, "
                       "steps, learning_rate, init).")
    if jax.process_count() > 1:
      raise ValueError("New-task inference (tasks.holdout) runs in one process; drop the "
                       "holdout or run it without jax.distributed.")
    if min(config.new_task.shots, default=0) < 1:
      raise ValueError(f"new_task.shots must be positive integers, got {config.new_task.shots}.")


def all_task_losses(task_loss: Callable, params: Any, num_tasks: int, xs: jax.Array,
                    ys: jax.Array, unroll: bool) -> tuple[jax.Array, jax.Array]:
  """``task_loss(params, t, xs[t], ys[t])`` for every task, stacked: ``(losses, accs)``.

  ``unroll=False`` vmaps over the tasks (what a 'task' mesh axis shards). ``unroll=True``
  writes one copy per task into the program: on XLA:CPU a vmap (or ``lax.map``) over
  generated convolution kernels is ~27x slower than the copies (gradient of 5 split-CIFAR
  tasks on ResNet-8, batch 16 each: 2.44 s vmapped, 1.88 s with lax.map, 90 ms unrolled,
  measured on a 2-core CPU at one scale of the generated weights; the gap varies with that
  scale), so the copies are the CPU path without a task axis.
  """
  tasks = jnp.arange(num_tasks)
  if not unroll:
    return jax.vmap(task_loss, in_axes=(None, 0, 0, 0))(params, tasks, xs, ys)
  losses, accs = zip(*(task_loss(params, tasks[t], xs[t], ys[t]) for t in range(num_tasks)))
  return jnp.stack(losses), jnp.stack(accs)


def make_train_steps(hnet: Any, target: Any, optimizer: optax.GradientTransformation,
                     num_tasks: int, par: sharding.Parallelism) -> tuple[Callable, Callable]:
  """``(update_all, update_one)``: compiled steps on a ``{'params', 'opt_state'}`` state.

  ``update_all(state, xs [tasks, batch, ...], ys [tasks, batch])`` trains every task at
  once (:func:`all_task_losses`, mean loss); ``update_one(state, task, x, y)`` one task.
  Both return ``(state, {'loss', 'accuracy'})`` and keep the state's shardings.
  """

  def task_loss(params, task, x, y):
    weights = hnet.apply(params, task)
    logits = target.apply(weights, x)
    return cross_entropy(logits, y), jnp.mean(jnp.argmax(logits, -1) == y)

  # Copies per task only where they pay: convolution kernels on CPU without a 'task' axis
  # (dense targets vmap as fast and compile faster).
  has_conv = any(leaf.kind == "kernel" and len(leaf.shape) >= 3 for leaf in target.spec.leaves)
  unroll = has_conv and par.size("task") == 1 and jax.default_backend() == "cpu"

  def all_tasks(params, state, xs, ys):
    del state
    losses, accs = all_task_losses(task_loss, params, num_tasks, xs, ys, unroll=unroll)
    return jnp.mean(losses), {"accuracy": jnp.mean(accs)}

  def one_task(params, state, task, x, y):
    del state
    loss, acc = task_loss(params, task, x, y)
    return loss, {"accuracy": acc}

  return (make_train_step(optimizer, loss_fn=all_tasks, par=par),
          make_train_step(optimizer, loss_fn=one_task, par=par))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains a task-conditioned hypernetwork on all tasks jointly; returns results."""
  validate_config(config)
  par = sharding.from_config(config, config.batch_size)
  taskset, source = load_tasks(config)
  task_ids = training_task_ids(config, taskset.num_tasks)
  num_tasks = len(task_ids)
  target = build_target(config, taskset)
  hnet, variables = builders.build_hypernet(
      config.hypernet, target, jnp.arange(num_tasks), config.seed,
      conditioner={"num_embeddings": num_tasks, "embedding_dim": config.hypernet.embedding_dim,
                   "normalize": True})
  par = par.for_model(hnet)
  optimizer = builders.build_optimizer(config.optimizer)
  num_hnet_params = sum(x.size for x in jax.tree.leaves(variables))
  sampling = config.get("task_sampling", "all")
  print(f"target {target.name}: {target.num_params:,} params per task; hypernet "
        f"{config.hypernet.family}: {num_hnet_params:,} params; {num_tasks} training tasks "
        f"({sampling} per step); data: {source}")
  print(par.describe(variables))

  batch = config.batch_size
  train_sizes = [len(taskset.train[t][0]) for t in task_ids]
  for size in train_sizes:
    pipeline.steps_per_epoch(size, batch)
  train_x = [np.asarray(taskset.train[t][0]) for t in task_ids]
  train_y = [np.asarray(taskset.train[t][1]) for t in task_ids]

  update_all, update_one = make_train_steps(hnet, target, optimizer, num_tasks, par)

  def train_step(state, step):
    if sampling == "cycle":
      t = step % num_tasks
      pick = pipeline.batch_indices(train_sizes[t], batch, config.seed + t, step // num_tasks)
      return update_one(state, par.replicate(np.int32(t)),
                        *par.gather_rows((train_x[t], train_y[t]), pick))
    picks = [pipeline.batch_indices(n, batch, config.seed + t, step)
             for t, n in enumerate(train_sizes)]
    xs = np.stack([x[p] for x, p in zip(train_x, picks)])
    ys = np.stack([y[p] for y, p in zip(train_y, picks)])
    return update_all(state, *par.shard_batch((xs, ys), leading="task"))

  @par.jit_replicated
  def logits_fn(params, task, x):
    return target.apply(hnet.apply(params, task), x)

  def evaluate(state, step):
    del step
    accuracies = [
        evaluation.accuracy(lambda x, i=i: logits_fn(state["params"], par.replicate(np.int32(i)), x),
                            *taskset.test[t], config.eval_batch_size, par.shard_batch)
        for i, t in enumerate(task_ids)]
    return {"test_accuracy": float(np.mean(accuracies)), "test_accuracies": accuracies}

  def init_state():
    return par.create_train_state(optimizer, variables)

  def summarize(state, evaluations):
    final = evaluations[-1]
    results = {
        "experiment": "multitask",
        "tasks": taskset.kind,
        "task_ids": task_ids,
        "task_classes": [taskset.classes[t] for t in task_ids],
        "test_accuracies": final["test_accuracies"],
        "test_accuracy": final["test_accuracy"],
        "num_params": {"hypernet": num_hnet_params, "target": target.num_params,
                       "independent_networks": num_tasks * target.num_params},
        "data_source": source,
        "config": config.to_dict(),
    }
    holdout = config.tasks.get("holdout")
    if holdout is not None:
      nt = config.new_task
      common = dict(shots=tuple(nt.shots), steps=nt.steps, seed=config.seed,
                    eval_batch_size=config.eval_batch_size)
      if config.hypernet.family == "independent":
        # No shared prior to infer from: a fresh network trained on the same shots, at
        # the joint-training learning rate (the reference row of the new-task table).
        inferred = new_task.train_from_scratch(
            target, taskset.train[holdout], taskset.test[holdout],
            learning_rate=config.optimizer.learning_rate, **common)
      else:
        inferred = new_task.infer_new_task(
            hnet, target, state["params"], taskset.train[holdout], taskset.test[holdout],
            learning_rate=nt.learning_rate, init=nt.init, **common)
      results["new_task"] = {"task": holdout, "classes": taskset.classes[holdout], **inferred}
    return results

  experiment = loop.Experiment(init_state=init_state, train_step=train_step, evaluate=evaluate,
                               summarize=summarize, num_steps=config.num_steps,
                               eval_every=config.eval_every, log_every=config.log_every)
  return loop.run(experiment, workdir, config, STRUCTURAL_KEYS)
