"""Runs a few training steps and one evaluation of an experiment on several meshes.

  python tests/sharded_runner.py FAMILY/MESH [FAMILY/MESH ...]   (prints one JSON object)

Started by tests/test_sharding.py in a fresh process with 8 fake CPU devices (the
device count is fixed when JAX starts, and the rest of the suite runs on one device).
For each mesh it runs the family's tiny config end to end through ``train_and_evaluate``
(``config.mesh`` = MESH) and reports the training losses of every step and the
evaluation figures, for the test to compare against the one-device mesh ``data=1``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_force_host_platform_device_count=8").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import ml_collections  # noqa: E402
import numpy as np  # noqa: E402

from hyperjax.experiments import get_experiment  # noqa: E402
from configs import multitask_common, phn_multi_mnist, static_common  # noqa: E402

NUM_STEPS = 3


def family_config(family: str) -> ml_collections.ConfigDict:
  """A tiny config of each experiment family, ``NUM_STEPS`` steps, one evaluation."""
  if family == "pareto":  # PHN-EPO, 4 rays per step, 5 evaluation rays
    c = phn_multi_mnist.get_config("epo,tiny")
    c.data.num_test = 400
    c.batch_size, c.num_rays, c.num_epochs = 256, 4, 1
    c.data.val_fraction = 0.1
    c.data.num_train = round(NUM_STEPS * c.batch_size / (1 - c.data.val_fraction)) + 10
    c.num_eval_rays, c.eval_batch_size = 3, 200
  elif family == "static":  # Ha et al.'s MNIST net, Hyper4_4
    c = static_common.get_config("mnist", "hyper4_4,tiny")
    c.batch_size, c.num_epochs, c.eval_batch_size = 96, 1, 1000
    c.max_train = NUM_STEPS * c.batch_size
  elif family in ("sparse", "chunked"):  # 4 permuted-MNIST tasks, all tasks per step
    c = multitask_common.get_config("permuted_mnist", f"{family},tiny")
    c.tasks.num_tasks = 4
    if family == "chunked":  # chunk rows divisible by the model axis, so 'model' splits them
      c.hypernet.kwargs.chunk_size = 4000
    c.num_steps = c.eval_every = NUM_STEPS
  else:
    raise ValueError(f"Unknown family {family!r}.")
  c.log_every = 1
  return c


def run(family: str, mesh: str) -> dict:
  config = family_config(family)
  config.mesh = mesh
  printed = io.StringIO()
  with tempfile.TemporaryDirectory() as workdir, contextlib.redirect_stdout(printed):
    get_experiment(config.experiment).train_and_evaluate(config, workdir)
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
      records = [json.loads(line) for line in f if line.strip()]
  losses = [r["loss"] for r in records if r["kind"] == "train"]
  evaluation = [r for r in records if r["kind"] == "eval"][-1]
  figures = {k: np.asarray(v).tolist() for k, v in evaluation.items()
             if k not in ("kind", "step", "time", "epoch")}
  layout = [l for l in printed.getvalue().splitlines() if l.startswith("mesh ")]
  return {"losses": losses, "evaluation": figures, "layout": layout[0]}


def run_large(mesh: str) -> dict:
  """The 100M-parameter case of the performance suite, shrunk (MLP 32-64-10, 2 chunks
  of 1,600 rows): the hypernet's output matrix split over 'model'."""
  from hyperjax.experiments import scaling  # pylint: disable=g-import-not-at-top
  (row,) = scaling.bench_large_target(mesh=mesh, hidden=(64,), input_dim=32, chunk_size=1600,
                                      batch_size=8, repeats=1)
  return row


if __name__ == "__main__":
  # Arguments: FAMILY/MESH (e.g. static/data=4,model=2); each family also runs on data=1.
  out: dict = {}
  for arg in sys.argv[1:]:
    name, mesh = arg.split("/", 1)
    runner = run_large if name == "large" else (lambda m, name=name: run(name, m))
    results = out.setdefault(name, {})
    for m in ("data=1", mesh):
      if m not in results:
        results[m] = runner(m)
  print("RESULTS " + json.dumps(out))
