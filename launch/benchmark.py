"""Benchmarks: prints tables and writes JSON.

  python -m launch.benchmark --suite=pareto --out=benchmarks/pareto_cpu.json

Suites: ``conv`` (LeNet convolution implementations), ``pareto`` (PHN step for
num_rays 1/4/16/64 whole and split batch, EPO step, seconds per epoch, input pipeline vs
step, 25-ray front evaluation on 20k images), ``sparse`` (sparse hypernetwork forward+backward
at P = 1e4 / 1e5 / 1e6 / 1e7 for each sparse backend, 1 and 8 conditions, with XLA's memory
estimate), ``sparse_target`` (a sparse hypernetwork generating PHN's 11.4M-parameter
ResNet-18, then its forward and backward pass), ``scale`` (the standard cases -- PHN
step at 1/16/64 rays, chunked ResNet-18 hypernet step, sparse hypernet step at 1e6
outputs, Ha's static MNIST step -- in one process per device count, with speedup and
efficiency; ``--cpu_devices`` fakes CPU devices), ``large_target`` (a chunked hypernetwork
generating a 100M-weight MLP: one device, then sharded over ``--large_target_mesh``),
``time_to_hv`` (PHN trained per setting -- 1 ray, 16 rays split, PyTorch's init, the PyTorch
implementation -- with the test front's hypervolume after every epoch against the training
seconds; ``--figure``), ``torch_reference`` (hyperjax and a PyTorch implementation of the same
PHN, from the same parameters on the same batches, taking turns: step, forward, backward,
optimizer, 25-ray test-front evaluation, and the ratios; needs ``pip install -e .[bench]``).

  python -m launch.benchmark --suite=scale --device_counts=1,8 --out=benchmarks/scale_cpu.json
  python -m launch.benchmark --suite=large_target --cpu_devices=8 --out=benchmarks/large_target_cpu.json
  python -m launch.benchmark --suite=time_to_hv --epochs=5 --out=benchmarks/time_to_hv_cpu.json \
      --figure=docs/time_to_hv_cpu.png
  python -m launch.benchmark --suite=torch_reference --out=benchmarks/torch_reference_cpu.json
"""

if __name__ == "__main__":  # glibc malloc settings for XLA:CPU (launch/cpu_tuning.py)
  from launch import cpu_tuning
  cpu_tuning.reexec_with_tuning()

import json
import os
import platform
import subprocess
import sys

# --cpu_devices=N must act before JAX starts: N fake CPU devices (XLA's host platform).
for _arg in sys.argv[1:]:
  if _arg.startswith("--cpu_devices="):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform"
                               f"_device_count={_arg.split('=', 1)[1]}").strip()

import jax  # noqa: E402
from absl import app, flags  # noqa: E402

from hyperjax import benchmarks  # noqa: E402
from launch import cpu_tuning  # noqa: E402

FLAGS = flags.FLAGS
SUITES = ["conv", "pareto", "quick", "sparse", "sparse_target", "scale", "scale_devices",
          "large_target", "time_to_hv", "torch_reference"]
flags.DEFINE_enum("suite", "pareto", SUITES, "Which cases to run.")
flags.DEFINE_integer("cpu_devices", None, "Run on this many fake CPU devices (set before JAX "
                     "starts; CPU only).")
flags.DEFINE_list("device_counts", ["1", "8"], "scale: the device counts compared (one process "
                  "each; fake CPU devices on CPU, the first N accelerators otherwise).")
flags.DEFINE_string("large_target_mesh", "data=1,model=-1", "large_target: the mesh.")
flags.DEFINE_string("out", None, "Write the rows as JSON here.")
flags.DEFINE_integer("repeats", 5, "Timed repetitions per case (after a warm-up call).")
flags.DEFINE_integer("epochs", 5, "time_to_hv: epochs per setting.")
flags.DEFINE_integer("evals_per_epoch", 1, "time_to_hv: test-front evaluations per epoch.")
flags.DEFINE_list("settings", None, "time_to_hv: settings to run (default: all of "
                  "hyperjax.time_to_hv.SETTINGS).")
flags.DEFINE_string("data_source", "auto", "time_to_hv / torch_reference: Multi-MNIST source "
                    "(auto: the full generated data from a local MNIST copy; embedded: the "
                    "shipped sample).")
flags.DEFINE_string("figure", None, "time_to_hv: write the HV-vs-seconds figure here.")


def scale_rows(counts: list[int], repeats: int) -> list[dict]:
  """The standard cases in one fresh process per device count, side by side: each row
  gets ``speedup`` (step time on 1 device / on N) and ``efficiency`` (speedup / N)."""
  rows = []
  for n in counts:
    cmd = [sys.executable, "-m", "launch.benchmark", "--suite=scale_devices",
           f"--repeats={repeats}", "--out=/dev/stdout"]
    env = dict(os.environ)
    if jax.default_backend() == "cpu":
      cmd.append(f"--cpu_devices={n}")
    else:
      env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, range(n)))
    print(f"scale: {n} device(s)...", flush=True)
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    rows += json.loads(out[out.index("{\n"):])["rows"]
  base = {r["case"]: r["median_s"] for r in rows if r["devices"] == 1}
  for r in rows:
    if r["case"] in base:
      r["speedup"] = base[r["case"]] / r["median_s"]
      r["efficiency"] = r["speedup"] / r["devices"]
  return rows


def main(argv):
  del argv
  rows = []
  if FLAGS.suite == "scale":
    rows += scale_rows([int(n) for n in FLAGS.device_counts], FLAGS.repeats)
  if FLAGS.suite == "scale_devices":
    from hyperjax.experiments import scaling  # pylint: disable=g-import-not-at-top
    rows += scaling.standard_cases(repeats=FLAGS.repeats)
  if FLAGS.suite == "large_target":
    from hyperjax.experiments import scaling  # pylint: disable=g-import-not-at-top
    rows += scaling.bench_large_target(mesh="data=1", repeats=FLAGS.repeats)
    rows += scaling.bench_large_target(mesh=FLAGS.large_target_mesh, repeats=FLAGS.repeats)
  if FLAGS.suite == "torch_reference":  # say a missing PyTorch before loading any data
    from hyperjax import torch_reference  # pylint: disable=g-import-not-at-top
    try:
      torch_reference.import_torch()
    except ImportError as e:
      raise app.UsageError(str(e)) from None
  if FLAGS.suite in ("time_to_hv", "torch_reference"):
    from hyperjax import data  # pylint: disable=g-import-not-at-top
    dataset = data.load_multi(name="multi_mnist", source=FLAGS.data_source)
    print(f"{FLAGS.suite} on {dataset.name} from {dataset.source}: {len(dataset.train[0]):,} "
          f"train / {len(dataset.test[0]):,} test canvases", flush=True)
  if FLAGS.suite == "torch_reference":
    rows += torch_reference.side_by_side(dataset.train, dataset.test, rounds=FLAGS.repeats)
  if FLAGS.suite == "time_to_hv":
    from hyperjax import time_to_hv  # pylint: disable=g-import-not-at-top
    names = FLAGS.settings or time_to_hv.available_settings()
    unknown = [n for n in names if n not in time_to_hv.SETTINGS]
    if unknown:
      raise app.UsageError(f"Unknown setting(s) {unknown}; choose from "
                           f"{', '.join(time_to_hv.SETTINGS)}.")
    rows += time_to_hv.time_to_hv({"train": dataset.train, "test": dataset.test},
                                  {n: time_to_hv.SETTINGS[n] for n in names}, FLAGS.epochs,
                                  evals_per_epoch=FLAGS.evals_per_epoch)
    if FLAGS.figure:
      time_to_hv.plot_time_to_hv(rows, FLAGS.figure,
                                 f"PHN-LS on {dataset.name} ({dataset.source}), {FLAGS.epochs} epochs")
  if FLAGS.suite == "sparse":
    rows += benchmarks.bench_sparse_backends(repeats=FLAGS.repeats)
  if FLAGS.suite == "sparse_target":
    rows += benchmarks.bench_sparse_large_target(repeats=FLAGS.repeats)
  if FLAGS.suite in ("conv", "pareto", "quick"):
    rows += benchmarks.bench_conv_impls(repeats=FLAGS.repeats)
  if FLAGS.suite == "pareto":
    rows += benchmarks.bench_phn_steps(repeats=FLAGS.repeats)
    rows += benchmarks.bench_phn_steps(num_rays_list=(1, 16), repeats=FLAGS.repeats,
                                       solvers=("epo",), batchings=("whole",))
    rows += benchmarks.bench_epoch_and_pipeline()
    rows += benchmarks.bench_front_evaluation()
  if FLAGS.suite == "quick":
    rows += benchmarks.bench_phn_steps(num_rays_list=(1, 4), repeats=2)
  device = jax.devices()[0]
  machine = {"platform": device.platform, "device": device.device_kind,
             "num_devices": jax.device_count(), "cpu_count": os.cpu_count(),
             "processor": platform.processor() or platform.machine(), "jax": jax.__version__,
             "malloc_tuning": cpu_tuning.active()}
  if FLAGS.out == "/dev/stdout":  # a worker of the scale suite: JSON only
    print(json.dumps({"machine": machine, "rows": rows}, indent=2))
    return
  print(f"machine: {machine}")
  print(benchmarks.format_table(rows))
  if FLAGS.out:
    os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
    with open(FLAGS.out, "w") as f:
      json.dump({"machine": machine, "rows": rows}, f, indent=2)
    print(f"wrote {FLAGS.out}")


if __name__ == "__main__":
  app.run(main)
