"""Data sources and the datasets built on them.

Sources (``config.data.source``), each with a clear error when unusable:
  * ``'tfds'``: tensorflow-datasets (lazily imported; see :mod:`hyperjax.data.tfds_source`);
  * ``'idx'``: a folder of raw IDX files, verified by SHA-256 (``idx_dir``, or found in
    ``$HYPERJAX_DATA_DIR/<name>``, ``../shared/data/<name>`` beside the repository, or
    Debian's ``/usr/share/datasets/fashion-mnist``);
  * ``'pickle'``: a legacy Multi-MNIST pickle ``(trainX, trainLabel, testX, testLabel)``;
  * ``'embedded'``: the small real MNIST / Fashion-MNIST sample shipped in the package;
  * ``'auto'``: tfds if the dataset is already prepared, else an IDX folder, else the
    embedded sample, but only when ``allow_embedded`` (quick configs): full-scale
    configs fail instead of silently shrinking.

Datasets (``config.data.name``): ``mnist``, ``fashion_mnist`` (any source), ``cifar10``,
``cifar100`` (tfds), and the generated ``multi_mnist``, ``multi_fashion``,
``multi_fashion_mnist`` (items from any source, or a legacy pickle).
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any

import numpy as np
from absl import logging

from hyperjax.data import embedded, idx, multi_mnist, tfds_source
from hyperjax.data.idx import DataError
from hyperjax.data.multi_mnist import MultiDataset

SOURCES = ("auto", "tfds", "idx", "pickle", "embedded")
CLASSIFICATION = ("mnist", "fashion_mnist", "cifar10", "cifar100")
MULTI = tuple(multi_mnist.VARIANTS)
# Canvases generated from the embedded sample (its 5,000 / 1,000 items are reused).
EMBEDDED_MULTI_SIZES = (10_000, 2_000)


# The options of a data block and their defaults (configs/common.py writes them out).
DATA_OPTIONS = {"name": "mnist", "source": "auto", "allow_embedded": False, "idx_dir": None,
                "tfds_data_dir": None, "tfds_download": False, "pickle_path": None,
                "cache_dir": None, "seed": 42, "num_train": 120_000, "num_test": 20_000,
                "val_fraction": 0.1}


def data_options(data: Any = None, **overrides: Any) -> types.SimpleNamespace:
  """A data block (ConfigDict, dict or None) with every option filled in."""
  given = data.to_dict() if hasattr(data, "to_dict") else dict(data or {})
  unknown = set(given) | set(overrides)
  unknown -= set(DATA_OPTIONS) | {"num_val"}
  if unknown:
    raise DataError(f"Unknown data option(s) {sorted(unknown)}; the options are "
                    f"{', '.join(sorted(DATA_OPTIONS))}.")
  return types.SimpleNamespace(**{**DATA_OPTIONS, **given, **overrides})


@dataclasses.dataclass(frozen=True)
class Dataset:
  """Images float32 in [0, 1] ``[n, H, W, C]`` and int32 labels, per split."""

  name: str
  source: str
  train: tuple[np.ndarray, np.ndarray]
  test: tuple[np.ndarray, np.ndarray]


def _to_float(split: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
  images, labels = split
  images = images.astype(np.float32) / 255.0
  if images.ndim == 3:
    images = images[..., None]
  return images, labels.astype(np.int32)


def load_raw(name: str, source: str = "auto", *, idx_dir: str | None = None,
             tfds_data_dir: str | None = None, tfds_download: bool = False,
             allow_embedded: bool = False) -> tuple[dict, str]:
  """``({'train': (x uint8, y), 'test': ...}, source_used)`` for a classification dataset."""
  if source not in SOURCES:
    raise DataError(f"Unknown data source {source!r}; choose one of {', '.join(SOURCES)}.")
  if name not in CLASSIFICATION:
    raise DataError(f"Unknown dataset {name!r}; choose one of {', '.join(CLASSIFICATION + MULTI)}.")
  if source == "pickle":
    raise DataError("The pickle source holds Multi-MNIST canvases; use it with "
                    f"data.name in {MULTI}.")
  if source == "tfds" or (source == "auto" and tfds_source.is_prepared(name, tfds_data_dir)):
    return tfds_source.load_tfds(name, tfds_data_dir, tfds_download), "tfds"
  if name not in idx.KNOWN_SHA256:
    raise DataError(f"{name} is only available through tfds (no IDX copy or embedded sample): "
                    "set data.source='tfds' with a prepared data.tfds_data_dir, or "
                    "data.tfds_download=True (needs TensorFlow).")
  if source == "embedded":
    return embedded.load_embedded(name), "embedded"
  folder = idx_dir or idx.find_idx_folder(name)
  if folder is not None:
    return idx.load_idx(folder, name), f"idx:{folder}"
  if source == "auto" and allow_embedded:
    logging.warning("No local copy of %s found; using the embedded sample.", name)
    print(f"NOTE: no local {name} found (tfds or IDX); falling back to the EMBEDDED SAMPLE "
          "shipped with hyperjax (5,000 train / 1,000 test images): a demo, not a reproduction.")
    return embedded.load_embedded(name), "embedded"
  searched = ", ".join(str(f) for f in idx.candidate_folders(name))
  raise DataError(f"No copy of {name} found (no prepared tfds dataset; no IDX files in "
                  f"{searched}). Set data.idx_dir or $HYPERJAX_DATA_DIR to a folder with the "
                  "four IDX files, use data.source='tfds', or use a quick (:tiny) config.")


def load_dataset(name: str, source: str = "auto", idx_dir: str | None = None,
                 allow_embedded: bool = False, **tfds_options) -> Dataset:
  """A classification dataset as float32 arrays (see :func:`load_raw`)."""
  raw, used = load_raw(name, source, idx_dir=idx_dir, allow_embedded=allow_embedded,
                       **tfds_options)
  return Dataset(name=name, source=used, train=_to_float(raw["train"]), test=_to_float(raw["test"]))


def load_multi(data: Any = None, **options: Any) -> MultiDataset:
  """A Multi-MNIST-family dataset (generated and cached, or a legacy pickle).

  Args:
    data: a config's data block (``config.data``), or None.
    **options: data options (:data:`DATA_OPTIONS`), e.g. ``name='multi_fashion',
      source='embedded'``; they override the block's.
  """
  if data is None:
    options.setdefault("name", "multi_mnist")
  data = data_options(data, **options)
  if data.name not in MULTI:
    raise DataError(f"Unknown Multi-MNIST variant {data.name!r}; choose one of {', '.join(MULTI)}.")
  if data.source == "pickle":
    if not data.pickle_path:
      raise DataError("data.source='pickle' needs data.pickle_path (the legacy "
                      "(trainX, trainLabel, testX, testLabel) file).")
    return multi_mnist.load_legacy_pickle(data.pickle_path, data.val_fraction)
  sources = {}

  def items(name):
    raw, used = load_raw(name, data.source, idx_dir=data.idx_dir,
                         tfds_data_dir=data.tfds_data_dir, tfds_download=data.tfds_download,
                         allow_embedded=data.allow_embedded)
    sources[name] = used
    return raw

  # Resolve the sources first: embedded items give a smaller, differently keyed cache.
  needed = sorted(set(multi_mnist.VARIANTS[data.name]))
  raws = {name: items(name) for name in needed}
  used = "embedded" if any(s == "embedded" for s in sources.values()) else "+".join(
      sorted(set(sources.values())))
  num_train, num_test = data.num_train, data.num_test
  if used == "embedded":
    num_train, num_test = min(num_train, EMBEDDED_MULTI_SIZES[0]), min(num_test,
                                                                         EMBEDDED_MULTI_SIZES[1])
  return multi_mnist.load_or_generate(data.name, raws.__getitem__, used, data.seed, num_train,
                                      num_test, data.cache_dir, data.val_fraction)


__all__ = ["CLASSIFICATION", "DataError", "Dataset", "MULTI", "MultiDataset", "SOURCES",
           "DATA_OPTIONS", "data_options", "load_dataset", "load_multi", "load_raw"]
