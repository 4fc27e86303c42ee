"""Configs of the static-hypernetwork experiments (``configs/static_*.py``).

Reference: Ha, Dai, Le. "HyperNetworks", ICLR 2017, and the student reproduction of
REFERENCE.md section 2 (HyperA_B: layer embedding of A dims, projection of B dims).
"""

from __future__ import annotations

import re

import ml_collections

from configs import common

# CIFAR-10 networks: name -> (target, kwargs, pattern of the generatable 3x3 kernels).
CIFAR_NETS = {
    "block1": ("vgg_blocks", {"num_blocks": 1}, r"Conv_1/kernel"),
    "block2": ("vgg_blocks", {"num_blocks": 2}, r"Conv_[1-3]/kernel"),
    "block3": ("vgg_blocks", {"num_blocks": 3}, r"Conv_[1-5]/kernel"),
    "wrn40_1": ("wide_resnet", {"depth": 40, "widen_factor": 1}, r"WideBlock_\d+/Conv_[01]/kernel"),
    "wrn40_2": ("wide_resnet", {"depth": 40, "widen_factor": 2}, r"WideBlock_\d+/Conv_[01]/kernel"),
}
MNIST_PATTERN = r"Conv_1/kernel"


def _hyper(args: list[str]) -> tuple[int, int] | None:
  found = [a for a in args if re.fullmatch(r"hyper\d+_\d+", a)]
  if len(found) > 1:
    raise ValueError(f"Choose one hyperA_B, got {found}.")
  if not found:
    return None
  a, b = found[0].removeprefix("hyper").split("_")
  return int(a), int(b)


def get_config(dataset: str, arg: str | None = None) -> ml_collections.ConfigDict:
  """``dataset`` is ``'mnist'`` or ``'cifar10'``; ``arg`` as the config files describe."""
  args = [a for a in (arg or "").split(",") if a]
  hyper = _hyper(args)
  nets = [a for a in args if a in CIFAR_NETS]
  known = set(CIFAR_NETS) | {"conv", "tiny"}
  unknown = [a for a in args if a not in known and not re.fullmatch(r"hyper\d+_\d+", a)]
  if unknown or (dataset == "mnist" and nets):
    raise ValueError(f"Unknown config argument(s) {unknown or nets}; use hyperA_B (e.g. "
                     "hyper5_5) or conv" + (", a network (" + ", ".join(CIFAR_NETS) + ")"
                                           if dataset == "cifar10" else "") + " and tiny.")
  if hyper and "conv" in args:
    raise ValueError("Choose hyperA_B or conv, not both.")
  tiny = "tiny" in args

  config = ml_collections.ConfigDict()
  config.experiment = "static"
  config.seed = 0
  # Devices: axis=size pairs over data/model/ray/task (hyperjax.training.sharding).
  config.mesh = "data=-1"
  config.data = common.data_block(dataset)
  config.data.num_val = 5000
  config.hypernet = ml_collections.ConfigDict()
  a, b = hyper or (4, 4)
  config.hypernet.embedding_dim = a
  config.hypernet.projection_dim = b
  if dataset == "mnist":
    config.target = ml_collections.ConfigDict({"name": "mnist_two_conv", "kwargs": {}})
    pattern, config.hypernet.kernel_size = MNIST_PATTERN, 7
    config.batch_size, learning_rate, config.num_epochs = 1000, 0.005, 10
    config.pad, config.flip = 1, False
  else:
    net = nets[0] if nets else "block3"
    if len(nets) > 1:
      raise ValueError(f"Choose one network, got {nets}.")
    name, kwargs, pattern = CIFAR_NETS[net]
    config.target = ml_collections.ConfigDict({"name": name, "kwargs": kwargs})
    config.hypernet.kernel_size = 3
    config.batch_size, learning_rate, config.num_epochs = 128, 0.002, 100
    config.pad, config.flip = 4, True
    if tiny:
      config.target.kwargs = dict(kwargs, **({"depth": 10} if name == "wide_resnet" else {}))
  config.hypernet.compare_layers = pattern
  config.hypernet.generated = pattern if hyper else ""
  # Adam with the learning rate x lr_decay every step, down to a floor.
  config.optimizer = common.optimizer_block(
      "adam", learning_rate, schedule="exponential_decay",
      schedule_kwargs={"transition_steps": 1,
                       "decay_rate": 0.999 if dataset == "mnist" else 0.99995,
                       "end_value": 1e-4 if dataset == "mnist" else 1e-5})
  config.eval_batch_size = 1000
  config.eval_every_epochs = 1
  config.log_every = 20
  config.max_train = None
  if tiny:
    config.max_train = 3000
    config.data.allow_embedded = True
    config.data.num_val = 500
    config.batch_size = 100 if dataset == "mnist" else 32
    config.num_epochs = 2
  return config
