"""A small real sample of MNIST and Fashion-MNIST shipped inside the package.

It lets the quickstart and quick configs run anywhere with no download. Built by
:func:`build_embedded_sample` from the verified IDX files (see ``embedded/README.md``
for provenance and licences): the first ``train_per_class`` training images of each
class and the first ``test_per_class`` test images of each class, in file order.
Runs that use it say so in their log and record ``data_source: embedded`` in
``results.json``; full-scale configs refuse it.
"""

from __future__ import annotations

import pathlib

import numpy as np

from hyperjax.data import idx

EMBEDDED_DIR = pathlib.Path(__file__).resolve().parent / "embedded"
EMBEDDED_NAMES = ("mnist", "fashion_mnist")


def embedded_path(name: str) -> pathlib.Path:
  return EMBEDDED_DIR / f"{name}_sample.npz"


def load_embedded(name: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """The embedded sample: ``{'train': (images uint8 [n, 28, 28], labels), 'test': ...}``."""
  if name not in EMBEDDED_NAMES:
    raise idx.DataError(f"No embedded sample of {name!r}; there are {EMBEDDED_NAMES}.")
  path = embedded_path(name)
  if not path.is_file():
    raise idx.DataError(f"The embedded sample {path} is missing from this installation; "
                        "reinstall hyperjax or rebuild it with launch/build_embedded_sample.py.")
  with np.load(path) as f:
    return {split: (f[f"{split}_images"], f[f"{split}_labels"]) for split in ("train", "test")}


def _first_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
  picks = [np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)]
  return np.sort(np.concatenate(picks))


def build_embedded_sample(name: str, folder: str | pathlib.Path, train_per_class: int = 500,
                          test_per_class: int = 100) -> pathlib.Path:
  """Writes the embedded sample of ``name`` from a verified IDX folder."""
  data = idx.load_idx(folder, name, verify=True)
  arrays = {}
  for split, per_class in (("train", train_per_class), ("test", test_per_class)):
    images, labels = data[split]
    keep = _first_per_class(labels, per_class)
    arrays[f"{split}_images"], arrays[f"{split}_labels"] = images[keep], labels[keep]
  EMBEDDED_DIR.mkdir(parents=True, exist_ok=True)
  path = embedded_path(name)
  np.savez_compressed(path, **arrays)
  return path
