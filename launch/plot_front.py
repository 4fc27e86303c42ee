"""Draws the fronts of finished Pareto runs in one figure, with single-task anchors.

  python -m launch.plot_front --workdirs=runs/phn_mm_ls,runs/phn_mm_epo \
      --anchors_from=runs/anchors_mm --out=docs/phn_multi_mnist.png

Each workdir's ``results.json`` gives its test losses at the best validation epoch; an
``--anchors_from`` single-task run (``configs/phn_*.py:single_task``) gives the anchors.
"""

import json
import os

import numpy as np
from absl import app, flags

from hyperjax.pareto import plot

FLAGS = flags.FLAGS
flags.DEFINE_list("workdirs", None, "Pareto run directories (comma-separated).")
flags.DEFINE_string("anchors_from", None, "A single_task run directory.")
flags.DEFINE_string("out", None, "PNG to write.")
flags.DEFINE_string("title", "", "Figure title.")
flags.mark_flags_as_required(["workdirs", "out"])


def _results(workdir: str) -> dict:
  path = os.path.join(workdir, "results.json")
  if not os.path.exists(path):
    raise app.UsageError(f"{workdir} has no results.json (the run has not finished).")
  with open(path) as f:
    return json.load(f)


def main(argv):
  del argv
  runs = [_results(w) for w in FLAGS.workdirs]
  rays = np.asarray(runs[0]["rays"])
  for workdir, run in zip(FLAGS.workdirs, runs):
    if run.get("experiment") != "pareto" or not np.allclose(run["rays"], rays):
      raise app.UsageError(f"{workdir} is not a Pareto run on the same evaluation rays.")
  fronts = {f"PHN-{r['solver'].upper()} (epoch {r['best_epoch']}), HV {r['hypervolume']:.3f}":
            r["test_losses"] for r in runs}
  anchors = None
  if FLAGS.anchors_from:
    single = _results(FLAGS.anchors_from)
    if single.get("experiment") != "single_task":
      raise app.UsageError(f"{FLAGS.anchors_from} is not a single_task run (train one with "
                           "--config=configs/phn_NAME.py:single_task).")
    anchors = np.asarray(single["anchors"])[None]
  plot.plot_fronts(FLAGS.out, fronts, rays, title=FLAGS.title, anchors=anchors,
                   reference_point=runs[0]["reference_point"])
  print(f"wrote {FLAGS.out}")


if __name__ == "__main__":
  app.run(main)
