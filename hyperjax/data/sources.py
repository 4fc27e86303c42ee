"""Batches from the user's own data: arrays, random-access sources, iterables.

A *batch* is any pytree of arrays with a leading batch axis: a tuple ``(x, y)`` or a
dict such as ``{'x': ..., 'y': ...}``. :func:`as_source` wraps what a user has:

* :class:`ArraySource`: in-memory arrays (a tuple / dict of NumPy or JAX arrays with a
  common first axis). Training batches are drawn from seeded per-epoch permutations
  (drop-remainder), so a resumed run replays exactly.
* :class:`RecordSource`: any random-access source, ``len(source)`` and
  ``source[i] -> record`` (``tfds.data_source(...)``, grain's ``ArrayRecordDataSource``
  and ``MapDataset``, a list of dicts). Same deterministic order as arrays; records are
  stacked into batches (``__getitems__`` is used when the source has it).
* :class:`IterableSource`: an iterable of ready-made batches (a generator function, a
  ``tf.data`` / ``grain`` iterator factory, or ``IterableSource(list_of_batches)``; a
  plain list is read as records). Each pass restarts it; a resumed
  run skips the batches it already trained on, which is exact when the iterable yields
  the same batches every time it is restarted.

Evaluation reads a split once, in batches of ``batch_size`` (the last may be smaller).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Mapping

import jax
import numpy as np

from hyperjax.data import pipeline

INPUT_KEYS = ("x", "image", "images", "inputs", "input")
LABEL_KEYS = ("y", "label", "labels", "target", "targets")


def batch_field(batch: Any, key: int | str | None, which: str = "inputs") -> Any:
  """A part of a batch: ``batch[key]``, or by default the inputs (``batch[0]`` / the
  first of ``'x'``, ``'image'``, ``'inputs'`` ...) or the labels (``batch[1]`` / ``'y'``,
  ``'label'``, ``'targets'`` ...)."""
  if key is not None:
    return batch[key]
  if isinstance(batch, Mapping):
    names = INPUT_KEYS if which == "inputs" else LABEL_KEYS
    for name in names:
      if name in batch:
        return batch[name]
    raise KeyError(f"The batch has keys {sorted(batch)}; none is a known {which} key "
                   f"({', '.join(names)}). Name it explicitly ({which}_key=...).")
  if isinstance(batch, (tuple, list)):
    return batch[0 if which == "inputs" else 1]
  if which == "inputs":
    return batch
  raise TypeError(f"Cannot find the {which} in a batch of type {type(batch).__name__}; pass "
                  "batches as (inputs, labels) or as a dict.")


def _is_array(x: Any) -> bool:
  return isinstance(x, (np.ndarray, jax.Array))


def _stack(records: list[Any]) -> Any:
  return jax.tree.map(lambda *xs: np.stack([np.asarray(x) for x in xs]), *records)


class ArraySource:
  """In-memory arrays with a common first axis (see the module docstring)."""

  def __init__(self, arrays: Any):
    leaves = jax.tree.leaves(arrays)
    if not leaves or not all(_is_array(x) for x in leaves):
      raise ValueError("ArraySource needs a tuple/dict of arrays.")
    sizes = {len(x) for x in leaves}
    if len(sizes) != 1:
      raise ValueError(f"The arrays of a split differ in length ({sorted(sizes)}); every part "
                       "of a batch needs one entry per example.")
    self.arrays = jax.tree.map(np.asarray, arrays)
    self.num_examples = sizes.pop()

  def __len__(self) -> int:
    return self.num_examples

  def take(self, indices: np.ndarray) -> Any:
    return jax.tree.map(lambda x: x[indices], self.arrays)

  def train_batch(self, step: int, batch_size: int, seed: int) -> Any:
    return self.take(pipeline.batch_indices(self.num_examples, batch_size, seed, step))

  def place_train_batch(self, step: int, batch_size: int, seed: int, par: Any) -> Any:
    """The step's batch on the mesh, each process reading only its rows."""
    sel = pipeline.batch_indices(self.num_examples, batch_size, seed, step)
    return par.gather_rows(self.arrays, sel)

  def eval_batches(self, batch_size: int) -> Iterator[Any]:
    for start in range(0, self.num_examples, batch_size):
      yield self.take(np.arange(start, min(start + batch_size, self.num_examples)))


class RecordSource(ArraySource):
  """A random-access source of records (see the module docstring)."""

  def __init__(self, source: Any):  # pylint: disable=super-init-not-called
    self.source = source
    self.num_examples = len(source)
    if self.num_examples == 0:
      raise ValueError("The data source is empty.")

  def take(self, indices: np.ndarray) -> Any:
    if hasattr(self.source, "__getitems__"):
      records = list(self.source.__getitems__([int(i) for i in indices]))
    else:
      records = [self.source[int(i)] for i in indices]
    return _stack(records)

  def place_train_batch(self, step: int, batch_size: int, seed: int, par: Any) -> Any:
    return par.shard_batch(self.train_batch(step, batch_size, seed))


class IterableSource:
  """An iterable of batches, restarted for every pass (see the module docstring)."""

  num_examples = None

  def __init__(self, iterable: Iterable[Any] | Callable[[], Iterable[Any]]):
    self._make = iterable if callable(iterable) and not hasattr(iterable, "__iter__") else (
        lambda: iterable)
    self._iterator: Iterator[Any] | None = None
    self._position = 0

  def train_batch(self, step: int, batch_size: int | None = None, seed: int | None = None) -> Any:
    """The ``step``-th batch of the iterable repeated pass after pass (``step`` counts
    over all passes; an earlier step restarts from the first pass)."""
    del batch_size, seed  # the iterable's own
    if self._iterator is None or step < self._position:
      self._iterator, self._position = iter(self._make()), 0
    while True:
      try:
        batch = next(self._iterator)  # type: ignore[arg-type]
      except StopIteration:
        if self._position == 0:
          raise ValueError("The training iterable yielded no batch.") from None
        self._iterator = iter(self._make())  # the next pass from the iterable's start
        try:
          batch = next(self._iterator)
        except StopIteration:
          raise ValueError("The training iterable yielded nothing on its second pass: pass "
                           "a generator function (restarted every pass), not a generator.") from None
      self._position += 1
      if self._position > step:
        return jax.tree.map(np.asarray, batch)

  def place_train_batch(self, step: int, batch_size: int, seed: int, par: Any) -> Any:
    return par.shard_batch(self.train_batch(step))

  def eval_batches(self, batch_size: int | None = None) -> Iterator[Any]:
    del batch_size
    for batch in self._make():
      yield jax.tree.map(np.asarray, batch)


Source = ArraySource | RecordSource | IterableSource


def as_source(data: Any) -> Source:
  """Wraps arrays, a random-access source or an iterable of batches (module docstring)."""
  if isinstance(data, (ArraySource, IterableSource)):
    return data
  leaves = jax.tree.leaves(data) if isinstance(data, (tuple, dict)) else []
  if _is_array(data) or (leaves and all(_is_array(x) for x in leaves)):
    return ArraySource(data)
  if hasattr(data, "__len__") and hasattr(data, "__getitem__"):
    return RecordSource(data)
  if hasattr(data, "__iter__") or callable(data):
    return IterableSource(data)
  raise TypeError(f"Cannot read batches from a {type(data).__name__}: pass arrays (a tuple or "
                  "dict of arrays), a random-access source (len() and [i]) or an iterable of "
                  "batches.")


def example_shape(source: Source, key: int | str | None = None) -> tuple[int, ...]:
  """The shape of one input example of ``source`` (its first batch's inputs)."""
  first = next(iter(source.eval_batches(1)))
  return tuple(np.shape(batch_field(first, key, "inputs"))[1:])


def steps_per_epoch(source: Source, batch_size: int) -> int | None:
  """Full batches per epoch (None for iterables, whose length is unknown)."""
  if source.num_examples is None:
    return None
  return pipeline.steps_per_epoch(source.num_examples, batch_size)
