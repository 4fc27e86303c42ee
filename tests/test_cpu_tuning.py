"""The launchers' glibc malloc settings: environment handling and the one-time re-exec."""

import os
import subprocess
import sys

from launch import cpu_tuning

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_tuned_environment_adds_keeps_and_stops():
  env = {"GLIBC_TUNABLES": "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=0", "PATH": "/bin"}
  tuned = cpu_tuning.tuned_environment(env)
  if not cpu_tuning.applicable():  # other platforms: nothing to set
    assert tuned is None
    return
  items = tuned["GLIBC_TUNABLES"].split(":")
  assert "glibc.malloc.arena_max=2" in items and "glibc.malloc.hugetlb=0" not in items
  assert cpu_tuning.active(tuned) and not cpu_tuning.active(env)
  assert tuned["PATH"] == "/bin" and env["GLIBC_TUNABLES"].startswith("glibc.malloc.arena_max")
  assert cpu_tuning.tuned_environment(tuned) is None  # already active: no second re-exec
  assert cpu_tuning.tuned_environment({**env, cpu_tuning.OPT_OUT: "0"}) is None


def test_reexec_runs_the_same_command_once_with_the_settings():
  code = ("import os, sys\nfrom launch import cpu_tuning\nprint('start', flush=True)\n"
          "cpu_tuning.reexec_with_tuning()\nprint(os.environ.get('GLIBC_TUNABLES', ''))\n")
  env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", cpu_tuning.OPT_OUT)}
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       cwd=ROOT, check=True).stdout.split()
  if not cpu_tuning.applicable():
    assert out == ["start", ""]
    return
  assert out == ["start", "start", cpu_tuning.TUNABLES]  # re-executed exactly once
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env={**env, cpu_tuning.OPT_OUT: "0"}, check=True).stdout.split()
  assert out == ["start"]
