"""PHN's chunked ResNet-18 (Navon et al., ICLR 2021) on Multi-(Fashion+MNIST).

Target: ResNet-18 with a 1-channel 7x7 stem, fc 512->512, two heads (11,443,156 params),
BatchNorm with per-ray calibrated statistics at evaluation. Hypernetwork: chunked, presets
11M / 5M / 2M / 1M = 105/230/577/1150 chunks x 11/5/2/1 matrices of 10000x100
(11,036,684 / 5,044,684 / 2,066,892 / 1,103,564 params). The ray is embedded as
``sum_i r_i E_i`` (32 dims, no bias), concatenated with a 64-dim learned chunk embedding
and mapped by a 96->100->100->100 MLP. Training as configs/phn_multi_mnist.py (Adam 1e-4,
batch 256, 150 epochs, Dirichlet(0.2) rays).

  python -m launch.train --config=configs/phn_resnet18.py:11M,ls --workdir=runs/phn_resnet18_11m
  python -m launch.train --config=configs/phn_resnet18.py:1M,epo --workdir=runs/phn_resnet18_1m
  python -m launch.train --config=configs/phn_resnet18.py:5M,tiny --workdir=/tmp/phn_r18_tiny

ARG: a preset (11M [default], 5M, 2M, 1M), and what configs/phn_multi_mnist.py takes
(solver, dataset [default here: multi_fashion_mnist], tiny). A ResNet-18 step is heavy
for a CPU; run the full configs on a GPU/TPU.
"""

import ml_collections

from configs import common, phn_multi_mnist
from hyperjax.hypernets import PHN_RESNET18_PRESETS as PRESETS  # preset -> (chunks, matrices)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  parts = [a for a in (arg or "").split(",") if a]
  presets = [a for a in parts if a in PRESETS]
  if len(presets) > 1:
    raise ValueError(f"Choose one preset, got {presets}.")
  rest = [a for a in parts if a not in PRESETS]
  if not any(a in phn_multi_mnist.DATASETS for a in rest):
    rest.append("multi_fashion_mnist")
  config = phn_multi_mnist.get_config(",".join(rest))
  num_chunks, num_ws = PRESETS[presets[0] if presets else "11M"]
  config.target = common.block("name", "phn_resnet18", num_tasks=2)
  config.hypernet.family = "chunked"
  config.hypernet.kwargs = {"num_chunks": num_chunks, "num_ws": num_ws, "chunk_size": 10_000,
                            "chunk_embedding_dim": 64, "hidden": (100, 100, 100)}
  config.hypernet.conditioner = {"vector_projection": 32}
  if "tiny" in rest:
    # ResNet-18 costs ~100x the LeNet per image on CPU: shrink data and evaluation further.
    config.data.num_train = 160
    config.data.num_test = 64
    config.batch_size = 32
    config.num_epochs = 1
    config.num_eval_rays = 3
    config.eval_batch_size = 64
    config.bn_calibration_batches = 1
  return config
