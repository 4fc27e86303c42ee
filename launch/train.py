"""Trains and evaluates any hyperjax experiment.

  python -m launch.train --config=configs/NAME.py[:ARG] --workdir=DIR [--config.KEY=VAL ...]

The same command on an existing workdir resumes from its latest checkpoint. Writes
DIR/metrics.jsonl, DIR/results.json, TensorBoard events and Orbax checkpoints.

Devices: ``--config.mesh=data=4,model=2`` (default ``data=-1``: every device on the data
axis; see hyperjax/training/sharding.py). Several hosts: start the same command once per
process with ``--coordinator_address=HOST:PORT --num_processes=N --process_id=I`` (or
``--distributed`` where JAX detects the cluster: Cloud TPU, SLURM, Open MPI). Every
process reads only its rows of each batch; process 0 writes the logs and results;
checkpoints are written by all processes together (Orbax) into the shared DIR.
"""

if __name__ == "__main__":  # glibc malloc settings for XLA:CPU (launch/cpu_tuning.py)
  from launch import cpu_tuning
  cpu_tuning.reexec_with_tuning()

import ast
import glob
import os
import sys
import textwrap

import jax
from absl import app, flags, logging
from ml_collections import config_flags

from hyperjax.data import DataError
from hyperjax.experiments import get_experiment
from hyperjax.training.workdir import WorkdirError

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")


def list_configs() -> str:
  """One line per config file: its path and the first line of its docstring (``--help``)."""
  lines = []
  for path in sorted(glob.glob(os.path.join(CONFIG_DIR, "*.py"))):
    with open(path) as f:
      tree = ast.parse(f.read())
    if not any(isinstance(n, ast.FunctionDef) and n.name == "get_config" and
               len(n.args.args) == 1 for n in tree.body):
      continue  # shared pieces (common.py), not a config
    doc = (ast.get_docstring(tree) or "").strip().splitlines()
    start = next((i for i, l in enumerate(doc) if l.strip().startswith("ARG")), None)
    args = ""
    if start is not None:
      end = next((i for i in range(start, len(doc)) if not doc[i].strip()), len(doc))
      args = textwrap.fill(" ".join(l.strip() for l in doc[start:end]), 92,
                           subsequent_indent="      ")
    lines.append(f"  configs/{os.path.basename(path)}: {doc[0] if doc else ''}"
                 + (f"\n      {args}" if args else ""))
  return "Configs (--config=configs/NAME.py[:ARG]; each file's docstring has its commands):\n" \
      + "\n".join(lines)


__doc__ = (__doc__ or "") + "\n" + list_configs() + "\n"

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Experiment config file (configs/NAME.py[:ARG]).",
                                lock_config=True)
flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and results.")
flags.DEFINE_string("coordinator_address", None,
                    "HOST:PORT of process 0, to start this run as one of several processes.")
flags.DEFINE_integer("num_processes", None, "Number of processes (with --coordinator_address).")
flags.DEFINE_integer("process_id", None, "This process's index, 0..num_processes-1.")
flags.DEFINE_bool("distributed", False, "Call jax.distributed.initialize() with the cluster's "
                  "own settings (Cloud TPU, SLURM, Open MPI).")
flags.mark_flags_as_required(["config", "workdir"])


def initialize_processes() -> None:
  """``jax.distributed.initialize`` when this run is one of several processes."""
  explicit = (FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)
  if any(v is not None for v in explicit):
    if any(v is None for v in explicit):
      raise app.UsageError("--coordinator_address, --num_processes and --process_id go together.")
    jax.distributed.initialize(FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id)
  elif FLAGS.distributed:
    jax.distributed.initialize()


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if not FLAGS["verbosity"].present:  # Orbax logs every save at INFO.
    logging.set_verbosity(logging.WARNING)
  initialize_processes()
  config = FLAGS.config
  try:
    results = get_experiment(config.experiment).train_and_evaluate(config, FLAGS.workdir)
  except (ValueError, DataError, WorkdirError, FileNotFoundError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  if jax.process_index() != 0:
    return
  summary = {k: v for k, v in results.items() if isinstance(v, (int, float, str))}
  print("results: " + ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                                for k, v in sorted(summary.items())))
  for key, value in sorted(results.items()):  # short lists of numbers, e.g. per-task accuracies
    if (isinstance(value, list) and 0 < len(value) <= 20
        and all(isinstance(v, (int, float)) for v in value)):
      print(f"{key}: [" + ", ".join(f"{v:.4f}" if isinstance(v, float) else str(v)
                                    for v in value) + "]")
  print(f"wrote {FLAGS.workdir}/results.json")


if __name__ == "__main__":
  app.run(main)
