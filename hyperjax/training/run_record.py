"""What a run records about itself: versions, the code's commit, devices, seed, config.

Stored in ``results.json`` (``run``) and as text in the TensorBoard run, so that two runs
can be compared on what produced them and not only on their numbers.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
from typing import Any

import jax

PACKAGES = ("hyperjax", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy")


def package_versions() -> dict[str, str | None]:
  versions: dict[str, str | None] = {}
  for name in PACKAGES:
    try:
      versions[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      versions[name] = None
  return versions


def git_commit() -> str | None:
  """The commit of the hyperjax checkout in use (``+dirty`` with uncommitted changes), or
  None when hyperjax is not run from a git checkout."""
  here = os.path.dirname(os.path.abspath(__file__))
  try:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                            text=True, timeout=10, check=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                           capture_output=True, text=True, timeout=10, check=True).stdout.strip()
  except (OSError, subprocess.SubprocessError):
    return None
  return commit + ("+dirty" if dirty else "") if commit else None


def run_record(config: Any) -> dict:
  """``{'versions', 'git_commit', 'devices', 'num_processes', 'seed'}`` of this process."""
  devices = jax.devices()
  return {
      "versions": package_versions(),
      "git_commit": git_commit(),
      "devices": {"platform": devices[0].platform, "kind": devices[0].device_kind,
                  "count": len(devices)},
      "num_processes": jax.process_count(),
      "seed": config.get("seed") if hasattr(config, "get") else None,
  }
