"""Shared fixtures. Tests run on CPU; nothing is downloaded."""

import os
import pathlib

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import pytest  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> pathlib.Path:
  """The offline IDX copies beside the repository (see ../shared/data/README.md)."""
  if not SHARED_DATA.is_dir():
    raise FileNotFoundError(f"Expected the offline datasets at {SHARED_DATA}.")
  return SHARED_DATA

