"""Benchmarks: prints tables and writes JSON.

  python -m launch.benchmark --suite=pareto --out=benchmarks/pareto_cpu.json

Suites: ``conv`` (LeNet convolution implementations), ``pareto`` (PHN step for
num_rays 1/4/16/64 whole and split batch, EPO step, seconds per epoch, input pipeline vs
step, 25-ray front evaluation on 20k images), ``sparse`` (sparse hypernetwork forward+backward
at P = 1e4 / 1e5 / 1e6 / 1e7 for each sparse backend, 1 and 8 conditions, with XLA's memory
estimate), ``sparse_target`` (a sparse hypernetwork generating PHN's 11.4M-parameter
ResNet-18, then its forward and backward pass).
"""

import json
import os
import platform

import jax
from absl import app, flags

from hyperjax import benchmarks

FLAGS = flags.FLAGS
flags.DEFINE_enum("suite", "pareto", ["conv", "pareto", "quick", "sparse", "sparse_target"], "Which cases to run.")
flags.DEFINE_string("out", None, "Write the rows as JSON here.")
flags.DEFINE_integer("repeats", 5, "Timed repetitions per case (after a warm-up call).")


def main(argv):
  del argv
  rows = []
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
             "processor": platform.processor() or platform.machine(), "jax": jax.__version__}
  print(f"machine: {machine}")
  print(benchmarks.format_table(rows))
  if FLAGS.out:
    os.makedirs(os.path.dirname(FLAGS.out) or ".", exist_ok=True)
    with open(FLAGS.out, "w") as f:
      json.dump({"machine": machine, "rows": rows}, f, indent=2)
    print(f"wrote {FLAGS.out}")


if __name__ == "__main__":
  app.run(main)
