"""ResNet targets.

References:
  He, Zhang, Ren, Sun. "Deep Residual Learning for Image Recognition", CVPR 2016
  (CIFAR ResNet-6n+2 with option-A identity shortcuts: ResNet-32 has 464,154
  parameters with BatchNorm).
  Navon et al., ICLR 2021 (PHN's ResNet-18 for Fashion+MNIST: 1-channel 7x7 stem,
  fc 512->512 + ReLU, two 512->10 heads, 11,443,156 parameters).
  von Oswald et al., ICLR 2020 / Cubelier 2022 (ResNet-32 without BatchNorm as a
  hypernetwork target).

BatchNorm follows PyTorch's defaults (momentum 0.1, i.e. Flax momentum 0.9,
epsilon 1e-5). ``train=True`` normalises with batch statistics; see
:mod:`hyperjax.target` for evaluation with generated weights.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from flax import linen as nn


def _norm(train: bool) -> nn.Module:
  return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)


class CifarResNet(nn.Module):
  """CIFAR ResNet of depth 6n+2 (16/32/64 channels), option-A shortcuts.

  Attributes:
    depth: 6n+2 (20, 32, 44, 56, 110).
    num_classes: logits.
    use_batchnorm: with BatchNorm after every convolution (convolutions without
      bias), or without BatchNorm (convolutions with bias), as used as a
      hypernetwork target by von Oswald et al. and Cubelier.
  """

  depth: int = 32
  num_classes: int = 10
  use_batchnorm: bool = True

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    if (self.depth - 2) % 6:
      raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {self.depth}.")
    blocks = (self.depth - 2) // 6
    conv = functools.partial(nn.Conv, kernel_size=(3, 3), use_bias=not self.use_batchnorm)
    norm = (lambda: _norm(train)) if self.use_batchnorm else (lambda: (lambda y: y))
    x = nn.relu(norm()(conv(16)(x)))
    for stage, width in enumerate((16, 32, 64)):
      for block in range(blocks):
        stride = 2 if stage > 0 and block == 0 else 1
        y = nn.relu(norm()(conv(width, strides=(stride, stride))(x)))
        y = norm()(conv(width)(y))
        if stride != 1 or x.shape[-1] != width:
          # Option A: subsample and zero-pad the channels (no parameters).
          x = x[:, ::stride, ::stride, :]
          pad = width - x.shape[-1]
          x = jnp.pad(x, ((0, 0), (0, 0), (0, 0), (pad // 2, pad - pad // 2)))
        x = nn.relu(x + y)
    x = jnp.mean(x, axis=(1, 2))
    return nn.Dense(self.num_classes)(x)


class BasicBlock(nn.Module):
  """ResNet basic block (two 3x3 convs, BatchNorm, 1x1 projection when needed)."""

  features: int
  stride: int = 1

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    s = (self.stride, self.stride)
    y = nn.Conv(self.features, (3, 3), s, padding=((1, 1), (1, 1)), use_bias=False)(x)
    y = nn.relu(_norm(train)(y))
    y = nn.Conv(self.features, (3, 3), padding=((1, 1), (1, 1)), use_bias=False)(y)
    y = _norm(train)(y)
    if self.stride != 1 or x.shape[-1] != self.features:
      x = nn.Conv(self.features, (1, 1), s, use_bias=False, name="downsample")(x)
      x = _norm(train)(x)
    return nn.relu(x + y)


class MultiTaskResNet18(nn.Module):
  """PHN's ResNet-18: 7x7 stem for ``in_channels`` inputs, fc 512->512 + ReLU, task heads.

  Input ``[batch, H, W, in_channels]``; output a tuple of ``num_tasks`` logits arrays.
  """

  num_tasks: int = 2
  num_classes: int = 10
  in_channels: int = 1
  stage_sizes: tuple[int, ...] = (2, 2, 2, 2)

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> tuple[jax.Array, ...]:
    if x.shape[-1] != self.in_channels:
      raise ValueError(f"Expected {self.in_channels} input channels, got {x.shape[-1]}.")
    x = nn.Conv(64, (7, 7), (2, 2), padding=((3, 3), (3, 3)), use_bias=False)(x)
    x = nn.relu(_norm(train)(x))
    x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
    for stage, blocks in enumerate(self.stage_sizes):
      for block in range(blocks):
        stride = 2 if stage > 0 and block == 0 else 1
        x = BasicBlock(64 * 2**stage, stride)(x, train)
    x = jnp.mean(x, axis=(1, 2))
    x = nn.relu(nn.Dense(512)(x))
    return tuple(nn.Dense(self.num_classes, name=f"head_{t}")(x)
                 for t in range(self.num_tasks))
