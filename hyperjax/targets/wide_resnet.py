"""Wide ResNets (pre-activation), the CIFAR-10 targets of Ha et al.'s HyperWRN.

References:
  Zagoruyko, Komodakis. "Wide Residual Networks", BMVC 2016.
  Ha, Dai, Le. "HyperNetworks", ICLR 2017 (WRN 40-1: 0.563M parameters,
  WRN 40-2: 2.236M; HyperWRN generates the 3x3 convolutions).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import linen as nn


def _norm(train: bool) -> nn.Module:
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)


class WideBlock(nn.Module):
  """BN-ReLU-conv3x3-BN-ReLU-conv3x3 with a 1x1 projection when the shape changes."""

  features: int
  stride: int = 1
  dropout_rate: float = 0.0

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    s = (self.stride, self.stride)
    out = nn.relu(_norm(train)(x))
    y = nn.Conv(self.features, (3, 3), s, use_bias=False)(out)
    y = nn.relu(_norm(train)(y))
    y = nn.Dropout(self.dropout_rate, deterministic=not train)(y)
    y = nn.Conv(self.features, (3, 3), use_bias=False)(y)
    if self.stride != 1 or x.shape[-1] != self.features:
      x = nn.Conv(self.features, (1, 1), s, use_bias=False, name="shortcut")(out)
    return x + y


class WideResNet(nn.Module):
  """WRN-depth-k for 32x32 inputs: stem 16, stages 16k/32k/64k, (depth-4)/6 blocks each."""

  depth: int = 40
  widen_factor: int = 1
  num_classes: int = 10
  dropout_rate: float = 0.0

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    if (self.depth - 4) % 6:
      raise ValueError(f"Wide ResNet depth must be 6n+4, got {self.depth}.")
    blocks = (self.depth - 4) // 6
    x = nn.Conv(16, (3, 3), use_bias=False)(x)
    for stage, width in enumerate((16, 32, 64)):
      for block in range(blocks):
        stride = 2 if stage > 0 and block == 0 else 1
        x = WideBlock(width * self.widen_factor, stride, self.dropout_rate)(x, train)
    x = nn.relu(_norm(train)(x))
    return nn.Dense(self.num_classes)(jnp.mean(x, axis=(1, 2)))
