"""The target zoo: Flax Linen networks that hypernetworks generate weights for.

``make_target(name, **kwargs)`` builds a :class:`~hyperjax.target.Target` by name (as
configs do); the module classes are exported for direct use.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from hyperjax.target import Target
from hyperjax.targets.lenet import MultiTaskLeNet, paretomtl_lenet, phn_lenet
from hyperjax.targets.mlp import MLP
from hyperjax.targets.resnet import CifarResNet, MultiTaskResNet18
from hyperjax.targets.static_nets import MnistTwoConv, VGGBlockNet
from hyperjax.targets.wide_resnet import WideResNet

# name -> (module factory, input shape of one example, whether it takes `train`).
_ZOO: dict[str, tuple[Callable[..., Any], tuple[int, ...], bool]] = {
    "phn_lenet": (phn_lenet, (36, 36, 1), False),
    "paretomtl_lenet": (paretomtl_lenet, (36, 36, 1), False),
    "mlp": (MLP, (28, 28, 1), False),
    "cifar_resnet": (CifarResNet, (32, 32, 3), True),
    "phn_resnet18": (MultiTaskResNet18, (36, 36, 1), True),
    "mnist_two_conv": (MnistTwoConv, (28, 28, 1), False),
    "vgg_blocks": (VGGBlockNet, (32, 32, 3), True),
    "wide_resnet": (WideResNet, (32, 32, 3), True),
}

TARGET_NAMES = tuple(sorted(_ZOO))


def takes_train(name: str) -> bool:
  """Whether zoo target ``name`` takes ``train=`` (BatchNorm or dropout)."""
  if name not in _ZOO:
    raise ValueError(f"Unknown target {name!r}; choose one of {', '.join(TARGET_NAMES)}.")
  return _ZOO[name][2]


def make_target(name: str, input_shape: tuple[int, ...] | None = None, **kwargs) -> Target:
  """Builds a zoo target by name.

  Args:
    name: one of :data:`TARGET_NAMES`.
    input_shape: shape of one input example (default: the network's usual input).
    **kwargs: the module's attributes (e.g. ``depth=32, use_batchnorm=False``).

  Returns:
    The :class:`Target`.
  """
  if name not in _ZOO:
    raise ValueError(f"Unknown target {name!r}; choose one of {', '.join(TARGET_NAMES)}.")
  factory, default_shape, takes_train = _ZOO[name]
  module = factory(**kwargs)
  sample = jax.ShapeDtypeStruct((1, *(input_shape or default_shape)), jnp.float32)
  extra = {"train": False} if takes_train else {}
  return Target.from_linen(module, sample, name=name, **extra)


__all__ = [
    "CifarResNet", "MLP", "MnistTwoConv", "MultiTaskLeNet", "MultiTaskResNet18",
    "TARGET_NAMES", "VGGBlockNet", "WideResNet", "make_target", "paretomtl_lenet",
    "phn_lenet", "takes_train",
]
