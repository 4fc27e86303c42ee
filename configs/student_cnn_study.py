"""The student study of Controllable Pareto MTL on Multi-MNIST, done with hypernetworks.

The study trained its multi-task CNN (hyperjax.targets.MultiTaskCNN: three convolutions
with 32/64/96 filters, two max-pools, a dense layer with dropout, one head per task;
RMSprop, 50 epochs) once per preference (0.1, 0.9) ... (0.9, 0.1) on the linear
scalarised loss and reported train / validation / test accuracy per preference; its
hypernetwork version never trained. The three arms, all evaluated at those nine
preferences (train, validation and test splits):

  python -m launch.train --config=configs/student_cnn_study.py:separate --workdir=runs/student_separate
  python -m launch.train --config=configs/student_cnn_study.py:cpmtl --workdir=runs/student_cpmtl
  python -m launch.train --config=configs/student_cnn_study.py:phn --workdir=runs/student_phn

ARG (comma-separated): an arm -- separate (nine networks in one vmapped step,
hyperjax.experiments.fixed_preferences), cpmtl (one Controllable Pareto MTL hypernetwork:
per-chunk projections, the linear update; --config.solver.kwargs.rule=decomposition for the
preference-based one, which does not train this CNN) or phn (one PHN-LS chunked hypernetwork
with shared projections) -- and optionally a dataset (multi_mnist [default],
multi_fashion, multi_fashion_mnist), a size (tiny: a few thousand canvases, 1 epoch;
epochs=N: N epochs instead of the study's 50) and paper_init (the hypernetworks with
Chang et al.'s hyperfan-in, PHN's ray embedding and Adam 1e-4, which stall on this target;
the default generates weights distributed as the target's own init at every ray, Adam 1e-3).
"""

import ml_collections
import numpy as np

from configs import common

ARMS = ("separate", "cpmtl", "phn")
DATASETS = ("multi_mnist", "multi_fashion", "multi_fashion_mnist")
# The study's nine preference vectors (0.1, 0.9), (0.2, 0.8), ..., (0.9, 0.1).
PREFERENCES = tuple((round(a, 1), round(1 - a, 1)) for a in np.arange(1, 10) / 10)


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  parts = [p for p in (arg or "").split(",") if p.strip()]
  epochs = [p for p in parts if p.startswith("epochs=")]
  rest = ",".join(p for p in parts if not p.startswith("epochs="))
  args = common.parse_arg(rest, {"arm": ARMS, "dataset": DATASETS, "size": ("tiny",)},
                          flags=("paper_init",))
  arm = args["arm"] or "separate"
  config = ml_collections.ConfigDict()
  config.seed = 0
  config.mesh = "data=-1"
  config.data = common.data_block(args["dataset"] or "multi_mnist")
  config.num_objectives = 2
  config.objective_names = ("top_left", "bottom_right")
  config.target = common.block("name", "student_cnn", dropout_rate=0.5)
  # The study's RMSprop (Keras' default 1e-3) for the separate networks; the hypernetworks
  # train with PHN's Adam 1e-4 (RMSprop 1e-3 diverges on a 38.8M-parameter generator).
  config.optimizer = common.optimizer_block("rmsprop", learning_rate=1e-3)
  config.batch_size = 256
  config.num_epochs = 50
  config.eval_every_epochs = 1
  config.log_every = 50
  config.eval_batch_size = 500
  config.reference_point = (2.0, 2.0)
  config.eval_train = True
  if arm == "separate":
    config.experiment = "fixed_preferences"
    config.preferences = PREFERENCES
  else:
    config.experiment = "pareto"
    # Adam 1e-3 with the generator below; --config.optimizer.learning_rate=1e-4 is PHN's.
    config.optimizer = common.optimizer_block("adam", learning_rate=1e-3)
    config.eval_rays = PREFERENCES
    config.num_eval_rays = len(PREFERENCES)
    config.eval_ray_angles = (0.1, 1.4707963267948966)
    config.eval_ray_chunk = "auto"
    config.bn_calibration_batches = 0
    config.anchors = ml_collections.FieldReference(None, field_type=list)
    config.num_rays = 1
    config.ray_alpha = 0.2
    config.ray_batching = "whole"
    config.hypernet = ml_collections.ConfigDict()
    config.hypernet.family = "chunked"
    # 384,116 target weights in chunks of 4,000 (97 chunks): per-chunk projections give
    # 100 x 388,000 output weights (CPMTL), shared ones 100 x 4,000 (PHN's chunked design).
    config.hypernet.kwargs = {"chunk_size": 4000, "num_ws": 1, "hidden": (100, 100, 100),
                              "chunk_embedding_dim": 64, "share_projection": arm == "phn"}
    config.hypernet.init = "hyperfan_in"
    if args["paper_init"]:
      # Chang et al.'s hyperfan-in (He gain, Var(b) = 1/2 x gain), PHN's ray embedding and
      # N(0, 0.1) chunk embeddings, Adam 1e-4: the generated CNN drops to the constant
      # prediction within ~50 steps (README, "Where the chunked generators stall").
      config.optimizer.learning_rate = 1e-4
      config.hypernet.conditioner = {}
      config.hypernet.init_scale = 2.0
      config.hypernet.init_bias_variance = ml_collections.FieldReference(None, field_type=float)
    else:
      # Generated weights distributed as the plain target's own init (LeCun kernels, zero
      # biases) at every ray: the ray embedding is normalised (its norm would otherwise scale
      # every generated layer, ~10x in the logits between rays (0.5, 0.5) and (0.9, 0.1)),
      # chunk embeddings N(0, 1) (comparable to it), and the shared projection reads centred
      # chunk features (hyperjax.hypernets.chunked.ChunkedHypernet.center_features).
      config.hypernet.conditioner = {"vector_projection": 32, "normalize": True}
      config.hypernet.init_scale = 1.0
      config.hypernet.init_bias_variance = 0.0
      config.hypernet.kwargs.update(chunk_embedding_stddev=1.0, center_features=arm == "phn")
    # The linear rule: the decomposition rule (rule=decomposition) does not train this CNN.
    solver = {"cpmtl": ("cpmtl", {"num_references": 5, "rule": "linear"}),
              "phn": ("ls", {})}[arm]
    config.solver = common.block("name", solver[0], **solver[1])
  if args["size"] == "tiny":
    config.data.allow_embedded = True
    config.data.num_train = 2000
    config.data.num_test = 500
    config.num_epochs = 1
  if epochs:
    config.num_epochs = int(epochs[-1].split("=", 1)[1])
  return config
