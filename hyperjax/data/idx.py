"""Raw IDX files (the MNIST / Fashion-MNIST distribution format), verified by SHA-256.

The digests are those of the *uncompressed* files, so a copy gzipped by another tool
(Debian's Fashion-MNIST differs from upstream only in the gzip header) still verifies.
A file whose digest differs is refused with a message naming it; nothing is read from
an unverified file unless ``verify=False`` is passed deliberately.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pathlib
import zlib

import numpy as np

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# SHA-256 of the uncompressed canonical files.
KNOWN_SHA256 = {
    "mnist": {
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    },
    "fashion_mnist": {
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    },
}

# Folders searched when no IDX directory is configured: $HYPERJAX_DATA_DIR/<name>,
# the repository's ../shared/data/<name>, and Debian's dataset-fashion-mnist package.
_DEBIAN = {"fashion_mnist": "/usr/share/datasets/fashion-mnist"}


class DataError(ValueError):
  """A dataset is missing, corrupt or unusable; the message says how to fix it."""


def _find_file(folder: pathlib.Path, stem: str) -> pathlib.Path:
  for candidate in (folder / stem, folder / f"{stem}.gz"):
    if candidate.is_file():
      return candidate
  raise DataError(f"{folder} has no {stem} or {stem}.gz; point the IDX source at a folder "
                  "holding the four MNIST-format files.")


def read_idx_bytes(path: pathlib.Path) -> bytes:
  """The uncompressed bytes of an IDX file (gzipped or not).

  Raises:
    DataError: the file cannot be read, or its gzip stream is corrupt or truncated.
  """
  try:
    with open(path, "rb") as f:
      head = f.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
      return f.read()
  except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
    raise DataError(f"{path} cannot be read ({type(e).__name__}: {e}); the copy is corrupt or "
                    "truncated: replace it with a fresh download.") from None


def parse_idx(raw: bytes, name: str = "IDX data") -> np.ndarray:
  """Parses IDX bytes (magic 0x0000 0x08 ndim, big-endian dims) into a uint8 array."""
  if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
    raise DataError(f"{name} is not an unsigned-byte IDX file (bad magic number).")
  ndim = raw[3]
  dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
  data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
  if data.size != int(np.prod(dims)):
    raise DataError(f"{name} is truncated: header says {dims}, found {data.size} bytes.")
  return data.reshape(dims)


def load_idx(folder: str | os.PathLike, name: str = "mnist", verify: bool = True
             ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """Loads the train and test splits of an IDX folder.

  Args:
    folder: folder with ``train-images-idx3-ubyte[.gz]`` and the three other files.
    name: ``'mnist'`` or ``'fashion_mnist'`` (selects the known digests).
    verify: check every file's SHA-256 against the canonical one.

  Returns:
    ``{'train': (images [60000, 28, 28] uint8, labels [60000] uint8), 'test': ...}``.

  Raises:
    DataError: a file is missing, corrupt, or its digest is not the canonical one.
  """
  folder = pathlib.Path(folder)
  if not folder.is_dir():
    raise DataError(f"IDX folder {folder} does not exist.")
  if verify and name not in KNOWN_SHA256:
    raise DataError(f"No known digests for {name!r}; known: {sorted(KNOWN_SHA256)}.")
  out = {}
  for split, stems in SPLIT_FILES.items():
    arrays = []
    for stem in stems:
      path = _find_file(folder, stem)
      raw = read_idx_bytes(path)
      if verify:
        digest = hashlib.sha256(raw).hexdigest()
        if digest != KNOWN_SHA256[name][stem]:
          raise DataError(
              f"{path} does not match the canonical {name} {stem} (SHA-256 of its "
              f"uncompressed bytes is {digest[:16]}..., expected "
              f"{KNOWN_SHA256[name][stem][:16]}...). The copy is corrupt or a different "
              "dataset: replace it with a fresh download.")
      arrays.append(parse_idx(raw, str(path)))
    images, labels = arrays
    if len(images) != len(labels):
      raise DataError(f"{folder}: {split} has {len(images)} images but {len(labels)} labels.")
    out[split] = (images, labels)
  return out


def candidate_folders(name: str) -> list[pathlib.Path]:
  """Folders where an IDX copy of ``name`` is looked for, in order."""
  folders = []
  if os.environ.get("HYPERJAX_DATA_DIR"):
    folders.append(pathlib.Path(os.environ["HYPERJAX_DATA_DIR"]) / name)
  folders.append(pathlib.Path(__file__).resolve().parents[3] / "shared" / "data" / name)
  if name in _DEBIAN:
    folders.append(pathlib.Path(_DEBIAN[name]))
  return folders


def find_idx_folder(name: str) -> pathlib.Path | None:
  """The first candidate folder that holds the training images, or None."""
  for folder in candidate_folders(name):
    if any((folder / f"train-images-idx3-ubyte{ext}").is_file() for ext in ("", ".gz")):
      return folder
  return None
