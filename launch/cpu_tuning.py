"""glibc malloc settings that make XLA:CPU's large temporary buffers cheap (Linux).

XLA:CPU allocates every large intermediate of a compiled program afresh on each call
(the PHN LeNet's first-layer patch matrix alone is 65 MB at batch 256). glibc serves
such blocks with ``mmap``, so each call pays a page fault per 4 KiB page of every buffer
and returns the memory on ``free``. Keeping freed memory in the heap (no ``mmap``
blocks, no trimming) and backing it with transparent huge pages removes that cost:
measured on a 2-core CPU, the PHN-LS training step went from ~85 ms to ~45 ms, the
patch gather from ~29 ms to ~7 ms (``launch/benchmark.py`` records whether the settings
were active). The price: the process keeps its peak heap until it exits.

The settings are read by the dynamic loader, so they must be in the environment when
the process starts: the launchers re-execute themselves once with them
(:func:`reexec_with_tuning`; ``HYPERJAX_MALLOC_TUNING=0`` turns this off); for your own
scripts, start Python with ``GLIBC_TUNABLES`` set to :data:`TUNABLES` (``python -m
launch.cpu_tuning`` prints the line). Stdlib only: imported before JAX.
"""

from __future__ import annotations

import os
import sys

TUNABLES = ("glibc.malloc.hugetlb=1:glibc.malloc.mmap_max=0:"
            "glibc.malloc.trim_threshold=1000000000000:glibc.malloc.top_pad=268435456")
OPT_OUT = "HYPERJAX_MALLOC_TUNING"


def applicable() -> bool:
  """Linux with glibc (other platforms and C libraries: nothing to do)."""
  if not sys.platform.startswith("linux"):
    return False
  try:
    return bool(os.confstr("CS_GNU_LIBC_VERSION"))
  except (ValueError, OSError):
    return False


def active(environ=None) -> bool:
  """Whether this process runs with the settings (they were in its start environment)."""
  environ = os.environ if environ is None else environ
  current = environ.get("GLIBC_TUNABLES", "")
  return all(item in current.split(":") for item in TUNABLES.split(":"))


def tuned_environment(environ=None) -> dict | None:
  """The environment to re-execute with, or None when there is nothing to do (settings
  active, opted out, or not glibc). Existing ``GLIBC_TUNABLES`` entries are kept."""
  environ = dict(os.environ if environ is None else environ)
  if environ.get(OPT_OUT, "1") == "0" or active(environ) or not applicable():
    return None
  ours = {item.split("=")[0] for item in TUNABLES.split(":")}
  kept = [item for item in environ.get("GLIBC_TUNABLES", "").split(":")
          if item and item.split("=")[0] not in ours]
  environ["GLIBC_TUNABLES"] = ":".join(kept + [TUNABLES])
  return environ


def reexec_with_tuning() -> None:
  """Re-executes this very command line once with the settings (no-op when not needed)."""
  environ = tuned_environment()
  if environ is None or not getattr(sys, "orig_argv", None):
    return
  sys.stdout.flush()
  sys.stderr.flush()
  os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], environ)


if __name__ == "__main__":
  print(f"GLIBC_TUNABLES={TUNABLES}")
