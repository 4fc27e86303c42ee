"""Controllable Pareto MTL (Lin, Yang, Zhang, Kwong, arXiv 2010.06313) on Multi-MNIST,
Multi-Fashion or Multi-(Fashion+MNIST).

The paper's generator: the preference and a learned chunk embedding go through a shared
MLP, and each chunk's own projection tensor maps its features to that chunk of the LeNet
target's weights (``hypernet.family=chunked``, ``share_projection=False``: 32 chunks of
1,000 weights, 3.2M parameters, PHN's budget); the update is the preference-based
decomposition (Pareto MTL's normalised active constraints over reference vectors spread
over [0, pi/2], exact min-norm subproblem, alpha rescaled to sum |alpha| = 2) or the
linear scalarisation. Rays follow the library's convention (the larger r_i, the more task
i matters); the rest of the protocol is PHN's (configs/phn_multi_mnist.py).

  python -m launch.train --config=configs/cpmtl_multi_mnist.py --workdir=runs/cpmtl_mm
  python -m launch.train --config=configs/cpmtl_multi_mnist.py:linear,multi_fashion --workdir=runs/cpmtl_mf_ls
  python -m launch.train --config=configs/cpmtl_multi_mnist.py:multi_fashion_mnist --workdir=runs/cpmtl_mfm
  python -m launch.train --config=configs/cpmtl_multi_mnist.py:tiny --workdir=/tmp/cpmtl_tiny

ARG (comma-separated, all optional): a rule (decomposition [default], linear), a
dataset (multi_mnist [default], multi_fashion, multi_fashion_mnist), a size (tiny,
embedded) and shared (one projection tensor for all chunks, PHN's chunked design).
"""

import ml_collections

from configs import phn_multi_mnist

RULES = ("decomposition", "linear")


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  args = phn_multi_mnist.common.parse_arg(
      arg, {"rule": RULES, "dataset": phn_multi_mnist.DATASETS,
            "size": phn_multi_mnist.SIZES}, flags=("shared",))
  config = phn_multi_mnist.get_config(
      ",".join(filter(None, ["cpmtl", args["dataset"], args["size"]])))
  config.solver.kwargs.rule = args["rule"] or "decomposition"
  config.hypernet.family = "chunked"
  config.hypernet.kwargs = {"chunk_size": 1000, "num_ws": 1, "hidden": (100, 100, 100),
                            "chunk_embedding_dim": 64, "share_projection": not args["shared"]}
  config.hypernet.init = "hyperfan_in"  # the chunk projections are scaled to the target's fan-in
  return config
