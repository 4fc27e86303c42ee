"""Inferring a model for a new task: a frozen hypernetwork, one new learned embedding.

After joint training on all tasks but one, the hypernetwork is frozen and only an
embedding for the held-out task is trained, on ``k`` examples per class (few-shot). A
good hypernetwork has learned a space of networks in which a new task is one point
away; Cubelier (2022) found linear sparse hypernetworks best at this, ahead of
non-linear sparse and chunked ones. :func:`train_from_scratch` is the no-prior
reference: a fresh network trained on the same shots (the ``independent`` family's
new-task result).

Reference: Cubelier, "Sparse hypernetworks", MSc thesis, University of Liege, 2022.
"""

from __future__ import annotations

from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from hyperjax.training import evaluation
from hyperjax.training.step import apply_gradients, init_train_state

EMBED_INITS = ("mean", "random")


def find_embedding_table(params: Any) -> tuple[tuple[str, ...], jax.Array]:
  """The path and value of the hypernetwork's task-embedding table ``[T, d]``.

  Raises ValueError when the hypernetwork has no (or several) embedding tables, e.g.
  for independent networks, which have nothing to infer a new task from.
  """
  found = []
  for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
    keys = tuple(getattr(k, "key", str(k)) for k in path)
    if len(keys) >= 2 and keys[-2:] == ("embedding", "embedding"):
      found.append((keys, leaf))
  if len(found) != 1:
    raise ValueError(f"New-task inference needs exactly one task-embedding table in the "
                     f"hypernetwork, found {len(found)}; use a hypernetwork family with a "
                     "task conditioner (not 'independent').")
  return found[0]


def with_new_embedding(params: Any, path: tuple[str, ...], new: jax.Array) -> Any:
  """``params`` with ``new`` appended as the last row of the embedding table at ``path``."""

  def replace(tree, keys):
    if not keys:
      return jnp.concatenate([tree, new[None]], axis=0)
    return {**tree, keys[0]: replace(tree[keys[0]], keys[1:])}

  return replace(params, path)


def few_shot_indices(labels: np.ndarray, shots: int, seed: int) -> np.ndarray:
  """``shots`` examples of each class of ``labels``, drawn without replacement."""
  rng = np.random.default_rng(seed)
  picks = []
  for c in np.unique(labels):
    where = np.flatnonzero(labels == c)
    if shots > len(where):
      raise ValueError(f"new_task.shots={shots} but class {c} of the held-out task has only "
                       f"{len(where)} training examples.")
    picks.append(rng.choice(where, shots, replace=False))
  return np.sort(np.concatenate(picks))


def _fit_full_batch(loss, start, steps: int, learning_rate: float):
  """``steps`` full-batch Adam steps on ``loss(params)`` from ``start``, one compiled scan."""
  optimizer = optax.adam(learning_rate)

  def step(state, _):
    return apply_gradients(optimizer, state, jax.grad(loss)(state["params"])), None

  state, _ = jax.lax.scan(step, init_train_state(optimizer, start), None, length=steps)
  return state["params"]


def _over_shots(fit, accuracy, start, train, test, shots: Sequence[int], seed: int,
                label: str) -> dict:
  """For each ``k``: draw ``k`` examples per class, ``fit(start, x, y)``, measure."""
  results = {"accuracy_at_init": accuracy(start, *test), "test_accuracy": {},
             "train_accuracy": {}}
  for k in shots:
    sel = few_shot_indices(train[1], int(k), seed)
    fitted = fit(start, jnp.asarray(train[0][sel]), jnp.asarray(train[1][sel]))
    results["train_accuracy"][str(k)] = accuracy(fitted, train[0][sel], train[1][sel])
    results["test_accuracy"][str(k)] = accuracy(fitted, *test)
    print(f"{label}, {k} shots per class: test accuracy {results['test_accuracy'][str(k)]:.4f}")
  return results


def train_from_scratch(target, train: tuple[np.ndarray, np.ndarray],
                       test: tuple[np.ndarray, np.ndarray], *, shots: Sequence[int], steps: int,
                       learning_rate: float, seed: int, eval_batch_size: int) -> dict:
  """The no-prior reference: a fresh target network (its own init) trained on the same
  ``k`` examples per class, as :func:`infer_new_task` reports them."""
  start = target.init_weights(jax.random.key(seed))

  @jax.jit
  def fit(weights, x, y):
    def loss(w):
      return optax.softmax_cross_entropy_with_integer_labels(target.apply(w, x), y).mean()
    return _fit_full_batch(loss, weights, steps, learning_rate)

  predict = jax.jit(target.apply)

  def accuracy(weights, x, y):
    return evaluation.accuracy(lambda xb: predict(weights, xb), x, y, eval_batch_size)

  return _over_shots(fit, accuracy, start, train, test, shots, seed, "new task from scratch")


def infer_new_task(hnet, target, params: Any, train: tuple[np.ndarray, np.ndarray],
                   test: tuple[np.ndarray, np.ndarray], *, shots: Sequence[int], steps: int,
                   learning_rate: float, init: str, seed: int, eval_batch_size: int) -> dict:
  """Trains only a new task embedding, with ``hnet``'s ``params`` frozen.

  Args:
    hnet: the trained hypernetwork module (task-index conditioned).
    target: the :class:`~hyperjax.target.Target` it generates.
    params: the trained hypernetwork variables.
    train: the held-out task's training ``(images, labels)`` (few-shot draws from it).
    test: its test set.
    shots: examples per class to train the embedding on, one experiment per value.
    steps: full-batch Adam steps per experiment.
    learning_rate: Adam learning rate of the embedding.
    init: ``'mean'`` (mean of the trained embeddings) or ``'random'`` (N(0, 1)).
    seed: seed of the few-shot draws and of the random init.
    eval_batch_size: test batch size.

  Returns:
    ``{'test_accuracy': {k: acc}, 'train_accuracy': {k: acc}, 'accuracy_at_init': acc}``.
  """
  if init not in EMBED_INITS:
    raise ValueError(f"Unknown new_task.init {init!r}; choose one of {', '.join(EMBED_INITS)}.")
  path, table = find_embedding_table(params)
  new_index = jnp.asarray(table.shape[0])
  # The same hypernetwork with one more row in its embedding table.
  hnet = hnet.clone(conditioner=hnet.conditioner.clone(num_embeddings=table.shape[0] + 1))
  if init == "mean":
    start = jnp.mean(table, axis=0)
  else:
    start = jax.random.normal(jax.random.key(seed), table.shape[1:], table.dtype)

  # The frozen parameters are arguments, not closed-over constants: XLA would otherwise
  # fold millions of weights into the compiled program.
  def logits(frozen, embedding, x):
    return target.apply(hnet.apply(with_new_embedding(frozen, path, embedding), new_index), x)

  @jax.jit
  def fit_embedding(frozen, embedding, x, y):
    def loss(e):
      return optax.softmax_cross_entropy_with_integer_labels(logits(frozen, e, x), y).mean()
    return _fit_full_batch(loss, embedding, steps, learning_rate)

  predict = jax.jit(logits)

  def accuracy(embedding, x, y):
    return evaluation.accuracy(lambda xb: predict(params, embedding, xb), x, y, eval_batch_size)

  return _over_shots(lambda e, x, y: fit_embedding(params, e, x, y), accuracy, start, train,
                     test, shots, seed, "new task")
