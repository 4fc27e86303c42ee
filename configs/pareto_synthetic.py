"""Pareto front learning on synthetic problems with known fronts (oracles for the solvers).

The hypernetwork (MLP 100-100) maps a ray to the decision vector; each evaluation reports
the learned front's generational distance and IGD to the true front, its hypervolume over
the true front's, and the angle between each point and its ray
(hyperjax/experiments/synthetic.py).

  python -m launch.train --config=configs/pareto_synthetic.py:phn_toy,epo --workdir=runs/toy_epo
  python -m launch.train --config=configs/pareto_synthetic.py:zdt1,ls --workdir=runs/zdt1_ls
  python -m launch.train --config=configs/pareto_synthetic.py:dtlz2,cpmtl --workdir=runs/dtlz2

ARG (comma-separated, all optional): a problem (phn_toy [default]: EPO / PHN's two-objective
problem, d = 20, concave front; zdt1: 30 variables, convex front; dtlz2: 3 objectives, 12
variables, spherical front), a solver (ls, epo [default], chebyshev, cpmtl) and quick
(a tenth of the steps).
"""

import ml_collections

from configs import common

PROBLEMS = {"phn_toy": {"dim": 20}, "zdt1": {"dim": 30}, "dtlz2": {"dim": 12, "num_objectives": 3}}
SOLVERS = {"ls": {}, "epo": {"eps": 1e-4, "relax": False}, "chebyshev": {"ideal": 0.0},
           "cpmtl": {"num_references": 5, "rule": "decomposition"}}


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  args = common.parse_arg(arg, {"problem": PROBLEMS, "solver": SOLVERS}, flags=("quick",))
  problem = args["problem"] or "phn_toy"
  solver = args["solver"] or "epo"
  config = ml_collections.ConfigDict()
  config.experiment = "synthetic"
  config.seed = 0
  config.mesh = "data=-1"
  config.problem = common.block("name", problem, **PROBLEMS[problem])
  config.data = {"name": problem}  # recorded with the run (the problem is its own data)
  config.num_objectives = PROBLEMS[problem].get("num_objectives", 2)
  config.target = common.block("name", "decision_vector", dim=PROBLEMS[problem]["dim"])
  config.hypernet = ml_collections.ConfigDict()
  config.hypernet.family = "mlp"
  config.hypernet.kwargs = {"hidden": (100, 100)}
  config.hypernet.conditioner = {}
  config.hypernet.init = "hyperfan_in"
  config.hypernet.init_scale = 1.0
  config.solver = common.block("name", solver, **SOLVERS[solver])
  config.optimizer = common.optimizer_block("adam", learning_rate=1e-3)
  config.num_rays = 16  # rays per step, each a point of the front: cheap here
  config.ray_alpha = 1.0  # Dirichlet(1): rays spread evenly over the simplex
  config.batch_size = 1
  config.num_steps = 3000
  config.eval_every = 500
  config.log_every = 100
  config.num_eval_rays = 25
  if args["quick"]:
    config.num_steps = 300
    config.eval_every = 100
  return config
