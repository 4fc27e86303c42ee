"""Trains and evaluates any hyperjax experiment.

  python -m launch.train --config=configs/NAME.py[:ARG] --workdir=DIR [--config.KEY=VAL ...]

The same command on an existing workdir resumes from its latest checkpoint. Writes
DIR/metrics.jsonl, DIR/results.json, TensorBoard events and Orbax checkpoints.
"""

import sys

from absl import app, flags, logging
from ml_collections import config_flags

from hyperjax.data import DataError
from hyperjax.experiments import get_experiment
from hyperjax.training.workdir import WorkdirError

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file("config", None, "Experiment config file (configs/NAME.py[:ARG]).",
                                lock_config=True)
flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and results.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if not FLAGS["verbosity"].present:  # Orbax logs every save at INFO.
    logging.set_verbosity(logging.WARNING)
  config = FLAGS.config
  try:
    results = get_experiment(config.experiment).train_and_evaluate(config, FLAGS.workdir)
  except (ValueError, DataError, WorkdirError, FileNotFoundError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
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
