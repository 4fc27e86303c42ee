"""Multi-MNIST, Multi-Fashion and Multi-(Fashion+MNIST), generated deterministically.

The ParetoMTL recipe (Lin et al., NeurIPS 2019), used by PHN (Navon et al., ICLR 2021)
and its successors: two 28x28 items from the same split go on a 36x36 canvas, one at
the top-left (offset (0, 0)) and one at the bottom-right (offset (8, 8)), each shifted
by a uniform integer in [-4, 4] pixels along each axis (pixels pushed past the canvas
edge are cropped); the canvas is their pixel-wise maximum. For Multi-MNIST and
Multi-Fashion the two items have different classes; for Fashion+MNIST the top-left item
is a Fashion-MNIST image and the bottom-right one an MNIST digit. Task 1 is the class
of the top-left item, task 2 that of the bottom-right item. Sizes: 120,000 train and
20,000 test canvases; the last 10% of train is the validation split (108k / 12k / 20k).

The same (recipe, seed) always gives byte-identical arrays; they are cached as ``.npz``
under a data directory, keyed by recipe and seed. The legacy pickles the Pareto papers
shared, ``(trainX, trainLabel, testX, testLabel)``, are read by :func:`load_legacy_pickle`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import pickle
import zipfile
import zlib

import numpy as np
from absl import logging

from hyperjax.data.idx import DataError

CANVAS = 36
ITEM = 28
OFFSETS = ((0, 0), (8, 8))
MAX_SHIFT = 4
VARIANTS = {
    # name -> (dataset of the top-left item, dataset of the bottom-right item)
    "multi_mnist": ("mnist", "mnist"),
    "multi_fashion": ("fashion_mnist", "fashion_mnist"),
    "multi_fashion_mnist": ("fashion_mnist", "mnist"),
}
RECIPE_VERSION = 1


@dataclasses.dataclass(frozen=True)
class MultiDataset:
  """Canvases ``[n, 36, 36, 1]`` float32 in [0, 1] and labels ``[n, 2]`` int32, per split.

  Attributes:
    name: the variant (:data:`VARIANTS`) or ``'legacy_pickle'``.
    source: where the items came from (``'idx:...'``, ``'embedded'``, ``'pickle:...'``).
    train, val, test: ``(images, labels)``.
  """

  name: str
  source: str
  train: tuple[np.ndarray, np.ndarray]
  val: tuple[np.ndarray, np.ndarray]
  test: tuple[np.ndarray, np.ndarray]


def place(canvas: np.ndarray, items: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> None:
  """Pixel-wise max of ``items [n, 28, 28]`` into ``canvas [n, 36, 36]`` at (row, col).

  Rows/cols may be negative or push the item past the edge; those pixels are cropped.
  """
  for r in np.unique(rows):
    for c in np.unique(cols):
      sel = np.flatnonzero((rows == r) & (cols == c))
      if not len(sel):
        continue
      top, left = max(r, 0), max(c, 0)
      bottom, right = min(r + ITEM, CANVAS), min(c + ITEM, CANVAS)
      patch = items[sel][:, top - r:bottom - r, left - c:right - c]
      region = canvas[sel, top:bottom, left:right]
      canvas[sel, top:bottom, left:right] = np.maximum(region, patch)


def compose(first: tuple[np.ndarray, np.ndarray], second: tuple[np.ndarray, np.ndarray],
            num: int, rng: np.random.Generator, distinct_classes: bool) -> dict[str, np.ndarray]:
  """``num`` canvases from item pools ``first`` (top-left) and ``second`` (bottom-right).

  Returns:
    ``images [num, 36, 36] uint8``, ``labels [num, 2]``, and the provenance of each
    canvas: ``index [num, 2]`` (item indices) and ``shift [num, 2, 2]`` (per item,
    row and column shift), so tests can check the recipe.
  """
  (x1, y1), (x2, y2) = first, second
  i = rng.integers(0, len(x1), num)
  j = rng.integers(0, len(x2), num)
  if distinct_classes:
    same = y1[i] == y2[j]
    while same.any():
      j[same] = rng.integers(0, len(x2), int(same.sum()))
      same = y1[i] == y2[j]
  shift = rng.integers(-MAX_SHIFT, MAX_SHIFT + 1, (num, 2, 2))
  canvas = np.zeros((num, CANVAS, CANVAS), np.uint8)
  for k, (items, idx) in enumerate(((x1, i), (x2, j))):
    rows = OFFSETS[k][0] + shift[:, k, 0]
    cols = OFFSETS[k][1] + shift[:, k, 1]
    place(canvas, items[idx], rows, cols)
  labels = np.stack([y1[i], y2[j]], axis=1).astype(np.int32)
  return {"images": canvas, "labels": labels, "index": np.stack([i, j], 1), "shift": shift}


def source_kind(source: str) -> str:
  """``'idx:/path+tfds'`` -> ``'idx+tfds'``: the kind of each item source, without paths."""
  return "+".join(sorted({part.split(":")[0] for part in source.split("+")}))


def cache_key(variant: str, seed: int, num_train: int, num_test: int, source: str) -> str:
  """A short digest of everything that determines the generated arrays."""
  recipe = {"variant": variant, "seed": seed, "num_train": num_train, "num_test": num_test,
            "source": source_kind(source), "version": RECIPE_VERSION,
            "canvas": CANVAS, "offsets": OFFSETS, "max_shift": MAX_SHIFT}
  return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def default_cache_dir() -> pathlib.Path:
  return pathlib.Path(os.environ.get("HYPERJAX_CACHE_DIR",
                                     pathlib.Path.home() / ".cache" / "hyperjax"))


def generate(variant: str, items: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]], seed: int,
             num_train: int = 120_000, num_test: int = 20_000) -> dict[str, np.ndarray]:
  """Generates the train and test canvases of a variant (uint8, with provenance).

  Args:
    variant: one of :data:`VARIANTS`.
    items: ``{'mnist': {'train': (x, y), 'test': ...}, 'fashion_mnist': ...}`` (uint8 or
      float items; only the datasets the variant uses are needed).
    seed: generation seed (train and test use independent streams).
    num_train, num_test: canvases per split.
  """
  if variant not in VARIANTS:
    raise DataError(f"Unknown Multi-MNIST variant {variant!r}; choose one of {sorted(VARIANTS)}.")
  top, bottom = VARIANTS[variant]
  out = {}
  for stream, (split, num) in enumerate((("train", num_train), ("test", num_test))):
    rng = np.random.default_rng([seed, stream])
    made = compose(items[top][split], items[bottom][split], num, rng,
                   distinct_classes=top == bottom)
    for key, value in made.items():
      out[f"{split}_{key}"] = value
  return out


def load_or_generate(variant: str, items_loader, source: str, seed: int,
                     num_train: int = 120_000, num_test: int = 20_000,
                     cache_dir: str | os.PathLike | None = None, val_fraction: float = 0.1,
                     ) -> MultiDataset:
  """The cached variant, generated (and cached) on first use.

  Args:
    variant: one of :data:`VARIANTS`.
    items_loader: ``name -> {'train': (x uint8, y), 'test': ...}`` for the item datasets.
    source: the item source label recorded in the result.
    seed, num_train, num_test: the recipe.
    cache_dir: where ``.npz`` files live (default ``$HYPERJAX_CACHE_DIR`` or
      ``~/.cache/hyperjax``).
    val_fraction: the last this fraction of train becomes the validation split.
  """
  if variant not in VARIANTS:
    raise DataError(f"Unknown Multi-MNIST variant {variant!r}; choose one of {sorted(VARIANTS)}.")
  cache_dir = pathlib.Path(cache_dir or default_cache_dir())
  path = cache_dir / f"{variant}_seed{seed}_{cache_key(variant, seed, num_train, num_test, source)}.npz"
  arrays = None
  if path.is_file():
    try:
      with np.load(path) as f:
        arrays = {k: f[k] for k in ("train_images", "train_labels", "test_images", "test_labels")}
      if (len(arrays["train_images"]) != num_train or len(arrays["train_labels"]) != num_train
          or len(arrays["test_images"]) != num_test or len(arrays["test_labels"]) != num_test):
        raise ValueError("wrong sizes")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as e:
      # A corrupt, truncated or partial cache file is regenerated, never trusted.
      logging.warning("The canvas cache %s is unreadable (%s: %s); regenerating it.", path,
                      type(e).__name__, e)
      arrays = None
  if arrays is None:
    items = {name: items_loader(name) for name in set(VARIANTS[variant])}
    arrays = generate(variant, items, seed, num_train, num_test)
    # A per-process temporary name: concurrent runs generating the same cache never clash.
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    try:
      cache_dir.mkdir(parents=True, exist_ok=True)
      np.savez(tmp, **{k: v for k, v in arrays.items()  # type: ignore[arg-type]
                        if k.endswith(("images", "labels"))})
      os.replace(tmp, path)
    except OSError as e:  # read-only or full cache folder: run without the cache
      tmp.unlink(missing_ok=True)
      logging.warning("Could not write the canvas cache %s (%s); set data.cache_dir or "
                      "$HYPERJAX_CACHE_DIR to a writable folder to reuse these canvases.", path,
                      e.strerror or e)
  return split_validation(variant, source, arrays["train_images"], arrays["train_labels"],
                          arrays["test_images"], arrays["test_labels"], val_fraction)


def split_validation(name: str, source: str, train_x, train_y, test_x, test_y,
                     val_fraction: float = 0.1) -> MultiDataset:
  """Float32 canvases in [0, 1] with a trailing-fraction validation split."""
  if not 0 <= val_fraction < 1:
    raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}.")
  n_val = int(round(len(train_x) * val_fraction))
  n_train = len(train_x) - n_val

  def prep(x, y):
    x = np.asarray(x)
    x = x.astype(np.float32) / (255.0 if x.dtype == np.uint8 else 1.0)
    return x.reshape(len(x), CANVAS, CANVAS, 1), np.asarray(y, np.int32)

  return MultiDataset(name, source, prep(train_x[:n_train], train_y[:n_train]),
                      prep(train_x[n_train:], train_y[n_train:]), prep(test_x, test_y))


def load_legacy_pickle(path: str | os.PathLike, val_fraction: float = 0.1) -> MultiDataset:
  """Reads a legacy Multi-MNIST pickle ``(trainX, trainLabel, testX, testLabel)``.

  The files the Pareto papers shared hold 120,000 / 20,000 canvases of 36x36 and labels
  ``[n, 2]``; the last 10% of train is the validation split, as in their code.
  """
  path = pathlib.Path(path)
  if not path.is_file():
    raise DataError(f"Legacy pickle {path} does not exist.")
  try:
    with open(path, "rb") as f:
      payload = pickle.load(f, encoding="latin1")
  except Exception as e:  # pylint: disable=broad-except
    raise DataError(f"{path} is not a readable pickle ({type(e).__name__}: {e}).") from e
  if not (isinstance(payload, (tuple, list)) and len(payload) == 4):
    raise DataError(f"{path} should hold (trainX, trainLabel, testX, testLabel); found "
                    f"{type(payload).__name__} of length {len(payload) if hasattr(payload, '__len__') else '?'}.")
  train_x, train_y, test_x, test_y = (np.asarray(a) for a in payload)
  for name, x, y in (("train", train_x, train_y), ("test", test_x, test_y)):
    if x.shape[1:] not in ((CANVAS, CANVAS), (CANVAS, CANVAS, 1), (CANVAS * CANVAS,)) or \
        y.shape != (len(x), 2):
      raise DataError(f"{path}: {name} images {x.shape} / labels {y.shape}; expected "
                      f"[n, 36, 36] images and [n, 2] labels.")
  return split_validation("legacy_pickle", f"pickle:{path}", train_x, train_y, test_x, test_y,
                          val_fraction)
