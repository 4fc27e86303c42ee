"""Convolution and pooling behind one switch: XLA's convolution or patches + matmul.

Both give ``Conv``-compatible parameters (``kernel [kh, kw, in, out]``, ``bias [out]``)
and the same values; only the computation differs. ``'patches'`` builds the patch
matrix with one gather of precomputed indices and multiplies it by the kernel; under
``jax.vmap`` over per-condition kernels it becomes a batched matmul instead of a
grouped convolution, which is far faster on CPU (measured in ``launch/benchmark.py``).
Pooling uses ``reshape + max`` for ``'patches'`` and ``reduce_window`` for ``'xla'``.
``'auto'`` picks ``'patches'`` on CPU and ``'xla'`` (cuDNN / the TPU's convolution units)
on accelerators, so one config runs well on both.
"""

from __future__ import annotations

import numpy as np
import jax
from flax import linen as nn

CONV_IMPLS = ("xla", "patches", "auto")


def resolve_impl(impl: str) -> str:
  """``'auto'`` -> ``'patches'`` on CPU, ``'xla'`` elsewhere; other names unchanged."""
  if impl == "auto":
    return "patches" if jax.default_backend() == "cpu" else "xla"
  return impl


def patch_indices(height: int, width: int, channels: int, k: int) -> np.ndarray:
  """Indices ``[out_h * out_w, k * k * channels]`` into a flattened ``[H * W * C]`` image.

  Patch entries are ordered ``(dy, dx, c)``, matching a ``[k, k, C, out]`` kernel
  reshaped to ``[k * k * C, out]``. VALID padding, stride 1.
  """
  out_h, out_w = height - k + 1, width - k + 1
  oy, ox = np.meshgrid(np.arange(out_h), np.arange(out_w), indexing="ij")
  dy, dx, c = np.meshgrid(np.arange(k), np.arange(k), np.arange(channels), indexing="ij")
  rows = oy.reshape(-1, 1) + dy.reshape(1, -1)
  cols = ox.reshape(-1, 1) + dx.reshape(1, -1)
  return ((rows * width + cols) * channels + c.reshape(1, -1)).astype(np.int32)


class Conv2D(nn.Module):
  """A VALID, stride-1 convolution with Flax ``Conv`` parameters and a selectable impl."""

  features: int
  kernel_size: int
  impl: str = "xla"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    k, cin = self.kernel_size, x.shape[-1]
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (k, k, cin, self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    impl = resolve_impl(self.impl)
    if impl == "xla":
      y = jax.lax.conv_general_dilated(x, kernel.astype(x.dtype), (1, 1), "VALID",
                                       dimension_numbers=("NHWC", "HWIO", "NHWC"))
    elif impl == "patches":
      b, h, w, _ = x.shape
      idx = patch_indices(h, w, cin, k)
      patches = x.reshape(b, h * w * cin)[:, idx]  # [b, out_h * out_w, k * k * cin]
      y = patches @ kernel.reshape(k * k * cin, self.features).astype(x.dtype)
      y = y.reshape(b, h - k + 1, w - k + 1, self.features)
    else:
      raise ValueError(f"Unknown conv impl {self.impl!r}; choose one of {', '.join(CONV_IMPLS)}.")
    return y + bias.astype(x.dtype)


def max_pool2(x: jax.Array, impl: str = "xla") -> jax.Array:
  """2x2 max pooling, stride 2 (even spatial sizes for ``'patches'``)."""
  if resolve_impl(impl) == "patches":
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))
  return nn.max_pool(x, (2, 2), strides=(2, 2))
