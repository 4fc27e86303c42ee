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
import re
import sys
import textwrap

import jax
from absl import app, flags, logging
from ml_collections import config_flags

from hyperjax.data import DataError
from hyperjax.experiments import get_experiment
from hyperjax.training.loop import Interrupted
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
flags.DEFINE_bool("debug", False, "Show the full traceback of an error instead of its one line.")
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


def _root_cause(error: BaseException) -> BaseException:
  """The innermost exception of ``error``'s cause / context chain."""
  seen = {id(error)}
  while (error.__cause__ or error.__context__) is not None \
      and id(error.__cause__ or error.__context__) not in seen:
    error = error.__cause__ or error.__context__  # type: ignore[assignment]
    seen.add(id(error))
  return error


def _fail(message: str, code: int = 2) -> None:
  print(f"error: {message}", file=sys.stderr)
  sys.exit(code)


def _describe_flag_error(error: BaseException, argv: list[str]) -> str:
  """One line for a flag or config-file error: the flag, the bad key or the config's own
  message, without the tracebacks absl and ml_collections wrap around it."""
  text = str(error)
  unknown = re.search(r'Did you mean \W*"([\w.]+)\W* instead of \W*"([\w.]+)', text)
  if isinstance(error, (AttributeError, KeyError)):
    bad = unknown.group(2) if unknown else str(_root_cause(error)).strip("'\"")
    given = next((a.split("=", 1)[0] for a in argv if a.startswith("--config.")
                  and a.split("=", 1)[0].endswith("." + bad)), f"--config.{bad}")
    hint = f"; did you mean {unknown.group(1)}?" if unknown else \
        "; the config file's get_config() shows its keys."
    return f"{given} is not a key of this config{hint}"
  if isinstance(error, flags.Error) and "Error whilst parsing config file" not in text:
    return text.strip().splitlines()[0]
  cause = _root_cause(error)
  lines = [l.strip() for l in str(cause).strip().splitlines() if l.strip()]
  return lines[0] if lines else type(cause).__name__


def parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing, with every mistake in one line (``--debug``: absl's own report)."""
  debug = any(a in ("--debug", "-debug") for a in argv)
  for arg in argv[1:]:
    if arg.startswith("--config=") and not debug:
      path = arg.split("=", 1)[1].split(":", 1)[0]
      if not os.path.isfile(path):
        _fail(f"config file {path} not found; `python -m launch.train --help` lists the configs.")
  try:
    rest = FLAGS(argv)
    if FLAGS.config is not None:
      FLAGS.config.get("experiment")  # loads the config file (lazily parsed)
  except Exception as e:  # pylint: disable=broad-except
    if debug:
      raise
    _fail(_describe_flag_error(e, argv))
  if FLAGS.workdir is not None and not FLAGS.workdir.strip():
    _fail("--workdir is empty; give the directory for this run's checkpoints and results.")
  return rest


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if not FLAGS["verbosity"].present:  # Orbax logs every save at INFO.
    logging.set_verbosity(logging.WARNING)
  initialize_processes()
  config = FLAGS.config
  try:
    results = get_experiment(config.experiment).train_and_evaluate(config, FLAGS.workdir)
  except KeyboardInterrupt:
    sys.exit(130)  # the loop printed where it stopped and that its checkpoint is saved
  except Interrupted as e:
    sys.exit(e.exit_code)
  except (ValueError, DataError, WorkdirError, FileNotFoundError) as e:
    if FLAGS.debug:
      raise
    _fail(str(e))
  except FloatingPointError as e:
    if FLAGS.debug:
      raise
    _fail(str(e), code=1)
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
  app.run(main, flags_parser=parse_flags)
