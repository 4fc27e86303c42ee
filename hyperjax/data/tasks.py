"""Multi-task and continual splits of a classification dataset.

References:
  Zenke, Poole, Ganguli 2017; van de Ven & Tolias 2019 (split MNIST: 5 tasks of 2
  digits; permuted MNIST: a fixed pixel permutation per task).
  von Oswald et al., ICLR 2020; Cubelier 2022 (used with task-conditioned hypernetworks).
"""

from __future__ import annotations

import dataclasses

import numpy as np

TASK_SPLITS = ("split", "permuted")
NUM_CLASSES = {"mnist": 10, "fashion_mnist": 10, "cifar10": 10, "cifar100": 100}


@dataclasses.dataclass(frozen=True)
class TaskSet:
  """Per-task arrays. ``train[t] = (images, labels)`` with labels local to the task.

  Attributes:
    kind: ``'split'`` or ``'permuted'``.
    classes: the original classes of each task (``[t]`` -> tuple of class ids).
    num_classes: outputs per task (2 for split MNIST, 10 for permuted).
  """

  kind: str
  classes: tuple[tuple[int, ...], ...]
  num_classes: int
  train: tuple[tuple[np.ndarray, np.ndarray], ...]
  test: tuple[tuple[np.ndarray, np.ndarray], ...]

  @property
  def num_tasks(self) -> int:
    return len(self.train)


def split_tasks(train, test, classes_per_task: int = 2, num_classes: int = 10) -> TaskSet:
  """Split MNIST-style tasks: task t holds classes [t*k, (t+1)*k), labels 0..k-1."""
  if num_classes % classes_per_task:
    raise ValueError(f"{num_classes} classes do not split into tasks of {classes_per_task}.")
  groups = tuple(tuple(range(t, t + classes_per_task))
                 for t in range(0, num_classes, classes_per_task))

  def take(split, group):
    images, labels = split
    keep = np.isin(labels, group)
    return images[keep], (labels[keep] - group[0]).astype(np.int32)

  return TaskSet("split", groups, classes_per_task, tuple(take(train, g) for g in groups),
                 tuple(take(test, g) for g in groups))


def permuted_tasks(train, test, num_tasks: int, seed: int, num_classes: int = 10) -> TaskSet:
  """Permuted MNIST: task t applies a fixed pixel permutation (task 0: identity)."""
  rng = np.random.default_rng(seed)
  size = int(np.prod(train[0].shape[1:]))
  perms = [np.arange(size)] + [rng.permutation(size) for _ in range(num_tasks - 1)]

  def permute(split, perm):
    images, labels = split
    flat = images.reshape(len(images), size)[:, perm]
    return flat.reshape(images.shape), labels

  groups = tuple(tuple(range(num_classes)) for _ in range(num_tasks))
  return TaskSet("permuted", groups, num_classes, tuple(permute(train, p) for p in perms),
                 tuple(permute(test, p) for p in perms))


def build_tasks(kind: str, train, test, *, dataset: str, classes_per_task: int = 2,
                num_tasks: int = 10, seed: int = 0) -> TaskSet:
  """Split MNIST / split CIFAR-10 (``classes_per_task=2``) / split CIFAR-100 (10), or
  permuted tasks, from a dataset's train and test arrays."""
  num_classes = NUM_CLASSES[dataset]
  if kind == "split":
    return split_tasks(train, test, classes_per_task, num_classes)
  if kind == "permuted":
    return permuted_tasks(train, test, num_tasks, seed, num_classes)
  raise ValueError(f"Unknown tasks.kind {kind!r}; choose one of {', '.join(TASK_SPLITS)}.")
