"""Small convolutional targets of the static-hypernetwork experiments.

References:
  Ha, Dai, Le. "HyperNetworks", ICLR 2017 (the 2-conv MNIST net whose second kernel,
  7x7x16x16, is generated).
  The VGG-block CIFAR-10 nets of the student reproduction in REFERENCE.md section 2
  (conv 3x3 16,16 / 32,32 / 64,64, maxpool, dropout 0.4, dense 128, dense 10).
"""

from __future__ import annotations

import jax
from flax import linen as nn


class MnistTwoConv(nn.Module):
  """conv 7x7 (16) -> pool -> conv 7x7 (16) -> pool -> dense 10, SAME padding.

  Input ``[batch, 28, 28, 1]``. The second convolution (``Conv_1``) has a
  7x7x16x16 kernel (12,544 weights) plus 16 biases: the 12,560 parameters the
  static hypernetwork replaces.
  """

  features: int = 16
  kernel_size: int = 7
  num_classes: int = 10

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    k = (self.kernel_size, self.kernel_size)
    x = nn.max_pool(nn.relu(nn.Conv(self.features, k)(x)), (2, 2), strides=(2, 2))
    x = nn.max_pool(nn.relu(nn.Conv(self.features, k)(x)), (2, 2), strides=(2, 2))
    return nn.Dense(self.num_classes)(x.reshape(x.shape[0], -1))


class VGGBlockNet(nn.Module):
  """``num_blocks`` VGG blocks (two 3x3 convs, maxpool, dropout) -> dense 128 -> dense 10.

  Block widths are 16, 32, 64. Input ``[batch, 32, 32, 3]``; pass ``train=True`` with
  a ``'dropout'`` rng to enable dropout.
  """

  num_blocks: int = 3
  widths: tuple[int, ...] = (16, 32, 64)
  dropout_rate: float = 0.4
  num_classes: int = 10

  @nn.compact
  def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
    if not 1 <= self.num_blocks <= len(self.widths):
      raise ValueError(f"num_blocks must be in 1..{len(self.widths)}, got {self.num_blocks}.")
    for width in self.widths[: self.num_blocks]:
      x = nn.relu(nn.Conv(width, (3, 3))(x))
      x = nn.relu(nn.Conv(width, (3, 3))(x))
      x = nn.max_pool(x, (2, 2), strides=(2, 2))
      x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
    x = nn.relu(nn.Dense(128)(x.reshape(x.shape[0], -1)))
    return nn.Dense(self.num_classes)(x)
