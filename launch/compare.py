"""Trains several hypernetwork families over seeds on one benchmark; writes a table.

  python -m launch.compare --config=configs/split_mnist.py \
      --families=sparse,sparse_prelu,chunked,mlp,linear,independent --seeds=0,1,2 \
      --workdir=runs/compare/split_mnist
  python -m launch.compare --config=configs/split_mnist.py --options=new_task \
      --families=sparse,sparse_prelu,chunked --seeds=0,1,2 --workdir=runs/compare/sm_new

Each run lives in WORKDIR/FAMILY/seed_S (rerunning the command resumes unfinished runs
and reads finished ones back). Writes WORKDIR/comparison.json and comparison.md.
"""

import os
import sys

from absl import app, flags, logging

from hyperjax.data import DataError
from hyperjax.experiments import compare, multitask
from hyperjax.training import metrics
from hyperjax.training.workdir import WorkdirError

FLAGS = flags.FLAGS
flags.DEFINE_string("config", None, "A multi-task config file (configs/split_mnist.py, ...).")
flags.DEFINE_list("families", ["sparse", "sparse_prelu", "chunked", "mlp", "linear",
                               "independent"], "Config families to compare.")
flags.DEFINE_list("options", [], "Extra config arguments for every run (new_task, tiny, ...).")
flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds.")
flags.DEFINE_multi_string("override", [], "KEY=VALUE applied to every run's config.")
flags.DEFINE_string("workdir", None, "Directory of all runs and the table.")
flags.DEFINE_string("title", "", "Table title.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)
  try:
    module = compare.load_config_module(FLAGS.config)
    overrides = compare.parse_overrides(FLAGS.override)
    seeds = [int(s) for s in FLAGS.seeds]
    configs = {(f, s): compare.run_config(module.get_config, f, FLAGS.options, s, overrides)
               for f in FLAGS.families for s in seeds}
    for config in configs.values():
      if config.experiment != "multitask":
        raise ValueError(f"{FLAGS.config} is not a multi-task config.")
    results = {}
    for (family, seed), config in configs.items():
      workdir = os.path.join(FLAGS.workdir, family, f"seed_{seed}")
      done = compare.finished_results(workdir, config)
      if done is None:
        print(f"=== {family}, seed {seed} -> {workdir}")
        done = multitask.train_and_evaluate(config, workdir)
      results.setdefault(family, []).append(done)
  except (ValueError, DataError, WorkdirError, FileNotFoundError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  rows = compare.summarize(results)
  table = compare.markdown_table(rows, FLAGS.title)
  metrics.write_json(os.path.join(FLAGS.workdir, "comparison.json"), {"rows": rows})
  with open(os.path.join(FLAGS.workdir, "comparison.md"), "w") as f:
    f.write(table)
  print(table)
  print(f"wrote {FLAGS.workdir}/comparison.json and comparison.md")


if __name__ == "__main__":
  app.run(main)
