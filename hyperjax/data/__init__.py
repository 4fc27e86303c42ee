"""Data sources: local IDX files (verified), the embedded sample, and task splits.

``load_dataset(name, source)`` is the front door:
  * ``'idx'``: a folder of raw IDX files (``idx_dir``, or found automatically in
    ``$HYPERJAX_DATA_DIR/<name>``, ``../shared/data/<name>`` beside the repository, or
    Debian's ``/usr/share/datasets/fashion-mnist``), verified by SHA-256;
  * ``'embedded'``: the small real sample shipped in the package;
  * ``'auto'``: an IDX folder if one is found, else the embedded sample, but only when
    ``allow_embedded`` (quick configs); full-scale configs fail instead of shrinking.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from absl import logging

from hyperjax.data import embedded, idx
from hyperjax.data.idx import DataError

SOURCES = ("auto", "idx", "embedded")


@dataclasses.dataclass(frozen=True)
class Dataset:
  """Images as float32 in [0, 1] ``[n, 28, 28, 1]`` and int32 labels, per split."""

  name: str
  source: str
  train: tuple[np.ndarray, np.ndarray]
  test: tuple[np.ndarray, np.ndarray]


def _to_float(split: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
  images, labels = split
  return (images.astype(np.float32)[..., None] / 255.0), labels.astype(np.int32)


def load_dataset(name: str, source: str = "auto", idx_dir: str | None = None,
                 allow_embedded: bool = False) -> Dataset:
  """Loads MNIST or Fashion-MNIST from the configured source.

  Args:
    name: ``'mnist'`` or ``'fashion_mnist'``.
    source: one of :data:`SOURCES`.
    idx_dir: explicit IDX folder (overrides the search).
    allow_embedded: whether ``'auto'`` may fall back to the embedded sample.

  Returns:
    The :class:`Dataset`; ``dataset.source`` says where it came from.
  """
  if source not in SOURCES:
    raise DataError(f"Unknown data source {source!r}; choose one of {', '.join(SOURCES)}.")
  if name not in idx.KNOWN_SHA256:
    raise DataError(f"Unknown dataset {name!r}; choose one of {sorted(idx.KNOWN_SHA256)}.")
  if source == "embedded":
    raw, used = embedded.load_embedded(name), "embedded"
  else:
    folder = idx_dir or idx.find_idx_folder(name)
    if folder is not None:
      raw, used = idx.load_idx(folder, name), f"idx:{folder}"
    elif source == "auto" and allow_embedded:
      logging.warning("No local copy of %s found; using the EMBEDDED SAMPLE shipped with "
                      "hyperjax (5,000 train / 1,000 test images). Results are a demo, not a "
                      "reproduction.", name)
      print(f"NOTE: no local {name} found; falling back to the embedded sample "
            "(5,000 train / 1,000 test images).")
      raw, used = embedded.load_embedded(name), "embedded"
    else:
      searched = ", ".join(str(f) for f in idx.candidate_folders(name))
      raise DataError(f"No IDX copy of {name} found (searched {searched}). Set "
                      f"config.data.idx_dir or $HYPERJAX_DATA_DIR to a folder with the four "
                      "IDX files, or use a quick config that may use the embedded sample.")
  return Dataset(name=name, source=used, train=_to_float(raw["train"]),
                 test=_to_float(raw["test"]))
