"""Two processes on localhost (CPU collectives, jax.distributed) agree with one process.

Each process has 2 fake CPU devices (4 in all, mesh ``data=4``); the single-process
reference has 4 fake devices. The run is Ha et al.'s MNIST Hyper4_4, 3 steps of 96
images and one evaluation, through ``launch.train`` exactly as a user starts it.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
ARGS = ["-m", "launch.train", "--config=configs/static_mnist.py:hyper4_4,tiny",
        "--config.batch_size=96", "--config.max_train=288", "--config.num_epochs=1",
        "--config.log_every=1"]


def _env(devices: int) -> dict:
  env = dict(os.environ, JAX_PLATFORMS="cpu",
             XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
  return env


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _read(workdir: pathlib.Path) -> tuple[list[float], dict]:
  records = [json.loads(l) for l in (workdir / "metrics.jsonl").read_text().splitlines() if l]
  results = json.loads((workdir / "results.json").read_text())
  return [r["loss"] for r in records if r["kind"] == "train"], results


@pytest.mark.slow
def test_two_processes_agree_with_one(tmp_path):
  multi, single = tmp_path / "multi", tmp_path / "single"
  port = _free_port()
  procs = [subprocess.Popen(
      [sys.executable, *ARGS, f"--workdir={multi}", f"--coordinator_address=localhost:{port}",
       "--num_processes=2", f"--process_id={i}"], cwd=REPO, env=_env(2),
      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
  reference = subprocess.run([sys.executable, *ARGS, f"--workdir={single}"], cwd=REPO,
                             env=_env(4), capture_output=True, text=True, timeout=600)
  outputs = [p.communicate(timeout=600)[0] for p in procs]
  for p, out in zip(procs, outputs):
    assert p.returncode == 0, out[-3000:]
  assert reference.returncode == 0, reference.stdout[-2000:] + reference.stderr[-2000:]
  assert "over 4 devices (2 process(es))" in outputs[0]
  assert "results:" in outputs[0] and "results:" not in outputs[1]  # process 0 reports

  losses, results = _read(multi)
  ref_losses, ref_results = _read(single)
  assert len(losses) == 3
  np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)
  for key in ("test_accuracy", "val_accuracy"):
    assert abs(results[key] - ref_results[key]) < 1e-6, key
  assert (multi / "checkpoints" / "3").is_dir()  # written by both processes together
  assert (multi / "kernels.png").is_file()
