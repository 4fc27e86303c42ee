"""tensorflow-datasets as a source: the normal path for users who are online or have a
prepared ``data_dir``. TensorFlow is never imported by hyperjax itself; tfds is imported
lazily, here only.

Reading goes through ``tfds.data_source`` (random access to ArrayRecord files, NumPy
records), which works without TensorFlow. *Preparing* the stock ``mnist``,
``fashion_mnist``, ``cifar10`` and ``cifar100`` builders (the first download) needs
TensorFlow: install it, or prepare the data once elsewhere and point
``config.data.tfds_data_dir`` at it. Tests use ``tfds.testing.mock_data``.
"""

from __future__ import annotations

import os
import pathlib

import numpy as np

from hyperjax.data.idx import DataError

TFDS_NAMES = ("mnist", "fashion_mnist", "cifar10", "cifar100")


def _import_tfds():
  try:
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise DataError("The tfds source needs tensorflow-datasets: pip install 'hyperjax[tfds]' "
                    "(or use config.data.source='idx' with local IDX files).") from e
  return tfds


def default_data_dir() -> pathlib.Path:
  """tfds's default data directory ($TFDS_DATA_DIR or ~/tensorflow_datasets)."""
  return pathlib.Path(os.environ.get("TFDS_DATA_DIR", pathlib.Path.home() / "tensorflow_datasets"))


def is_prepared(name: str, data_dir: str | None = None) -> bool:
  """Whether tfds has ``name`` prepared in ``data_dir`` (False when tfds is absent).

  Looks for a prepared version folder first, so that the common case (nothing there)
  neither imports tfds nor logs its warnings.
  """
  root = pathlib.Path(data_dir) if data_dir else default_data_dir()
  if not any((root / name).glob("*/dataset_info.json")):
    return False
  try:
    tfds = _import_tfds()
    return bool(tfds.builder(name, data_dir=data_dir).is_prepared())
  except Exception:  # pylint: disable=broad-except
    return False


def load_tfds(name: str, data_dir: str | None = None, download: bool = False,
              splits: tuple[str, ...] = ("train", "test"), label_key: str = "label",
              ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """``{split: (images uint8 [n, H, W, C], labels int32 [n])}`` from tfds.

  Args:
    name: a tfds image classification dataset (see :data:`TFDS_NAMES`).
    data_dir: tfds data directory (default: tfds's own).
    download: let tfds download and prepare the data (needs TensorFlow for the stock
      builders).
    splits: the splits to read.
    label_key: the feature holding the class (``'label'``; ``'coarse_label'`` for the
      20 CIFAR-100 superclasses).
  """
  if name not in TFDS_NAMES:
    raise DataError(f"Unsupported tfds dataset {name!r}; choose one of {', '.join(TFDS_NAMES)}.")
  tfds = _import_tfds()
  out = {}
  for split in splits:
    try:
      source = tfds.data_source(name, split=split, data_dir=data_dir, download=download)
    except Exception as e:  # pylint: disable=broad-except
      raise DataError(
          f"tfds could not open {name}/{split} ({type(e).__name__}: {e}). Prepare it with "
          f"download=True (config.data.tfds_download; needs TensorFlow for {name}), point "
          "config.data.tfds_data_dir at a prepared copy, or use another source.") from e
    records = [source[i] for i in range(len(source))]
    if not records:
      raise DataError(f"tfds {name}/{split} is empty.")
    images = np.stack([np.asarray(r["image"], np.uint8) for r in records])
    labels = np.asarray([r[label_key] for r in records], np.int32)
    out[split] = (images, labels)
  return out
