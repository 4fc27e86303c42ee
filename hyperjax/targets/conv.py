"""Convolution and pooling behind one switch: XLA's convolution or patches + matmul.

All give ``Conv``-compatible parameters (``kernel [kh, kw, in, out]``, ``bias [out]``)
and the same values; only the computation differs. ``'patches'`` builds the patch
matrix with one gather of precomputed indices and multiplies it by the kernel; under
``jax.vmap`` over per-condition kernels it becomes a batched matmul instead of a
grouped convolution, which is far faster on CPU (measured in ``launch/benchmark.py``).
``'batch_minor'`` is ``'patches'`` in the ``[channels, height, width, batch]`` layout:
its gather copies whole contiguous rows of ``batch`` floats and its matmul has the
kernel on the left and ``out_h * out_w * batch`` columns, the wide side of the product
where a CPU matmul is fastest; targets move to that layout once at their input
(:func:`to_layout`) and back before their dense layers (:func:`from_layout`).
Pooling uses ``reshape + max`` for both patch forms and ``reduce_window`` for ``'xla'``.
``'auto'`` picks ``'batch_minor'`` on CPU and ``'xla'`` (cuDNN / the TPU's convolution
units) on accelerators, so one config runs well on both.
"""

from __future__ import annotations

import numpy as np
import jax
import jax.numpy as jnp
from flax import linen as nn

CONV_IMPLS = ("xla", "patches", "batch_minor", "auto")


def resolve_impl(impl: str) -> str:
  """``'auto'`` -> ``'batch_minor'`` on CPU, ``'xla'`` elsewhere; other names unchanged."""
  if impl == "auto":
    return "batch_minor" if jax.default_backend() == "cpu" else "xla"
  if impl not in CONV_IMPLS:
    raise ValueError(f"Unknown conv impl {impl!r}; choose one of {', '.join(CONV_IMPLS)}.")
  return impl


def to_layout(x: jax.Array, impl: str) -> jax.Array:
  """An ``[batch, height, width, channels]`` input in ``impl``'s layout (``'batch_minor'``:
  ``[channels, height, width, batch]``; the others: unchanged)."""
  return jnp.transpose(x, (3, 1, 2, 0)) if resolve_impl(impl) == "batch_minor" else x


def from_layout(x: jax.Array, impl: str) -> jax.Array:
  """The inverse of :func:`to_layout`: back to ``[batch, height, width, channels]``."""
  return to_layout(x, impl)


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


def patch_rows(height: int, width: int, channels: int, k: int) -> np.ndarray:
  """Row indices ``[k * k * channels, out_h * out_w]`` into a ``[C * H * W, batch]`` image
  stack (the batch-minor layout): patch entry ``(dy, dx, c)`` of output position
  ``(oy, ox)`` is row ``(c * H + oy + dy) * W + ox + dx``. VALID padding, stride 1."""
  out_h, out_w = height - k + 1, width - k + 1
  dy, dx, c = np.meshgrid(np.arange(k), np.arange(k), np.arange(channels), indexing="ij")
  oy, ox = np.meshgrid(np.arange(out_h), np.arange(out_w), indexing="ij")
  rows = (c.reshape(-1, 1) * height + dy.reshape(-1, 1) + oy.reshape(1, -1)) * width
  return (rows + dx.reshape(-1, 1) + ox.reshape(1, -1)).astype(np.int32)


class Conv2D(nn.Module):
  """A VALID, stride-1 convolution with Flax ``Conv`` parameters and a selectable impl."""

  features: int
  kernel_size: int
  impl: str = "xla"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    """``x`` in the impl's layout (:func:`to_layout`); the output in the same layout."""
    impl = resolve_impl(self.impl)
    k, cin = self.kernel_size, x.shape[0 if impl == "batch_minor" else -1]
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (k, k, cin, self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    if impl == "batch_minor":
      _, h, w, b = x.shape
      patches = x.reshape(cin * h * w, b)[patch_rows(h, w, cin, k)]  # [kkC, out_hw, b]
      flat = kernel.reshape(k * k * cin, self.features).astype(x.dtype).T @ patches.reshape(
          k * k * cin, -1)
      return (flat.reshape(self.features, h - k + 1, w - k + 1, b)
              + bias.astype(x.dtype)[:, None, None, None])
    if impl == "xla":
      y = jax.lax.conv_general_dilated(x, kernel.astype(x.dtype), (1, 1), "VALID",
                                       dimension_numbers=("NHWC", "HWIO", "NHWC"))
    else:  # patches
      b, h, w, _ = x.shape
      idx = patch_indices(h, w, cin, k)
      patches = x.reshape(b, h * w * cin)[:, idx]  # [b, out_h * out_w, k * k * cin]
      y = patches @ kernel.reshape(k * k * cin, self.features).astype(x.dtype)
      y = y.reshape(b, h - k + 1, w - k + 1, self.features)
    return y + bias.astype(x.dtype)


def max_pool2(x: jax.Array, impl: str = "xla") -> jax.Array:
  """2x2 max pooling, stride 2, in the impl's layout (even spatial sizes for the patch forms)."""
  impl = resolve_impl(impl)
  if impl == "batch_minor":
    c, h, w, b = x.shape
    return x.reshape(c, h // 2, 2, w // 2, 2, b).max(axis=(2, 4))
  if impl == "patches":
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))
  return nn.max_pool(x, (2, 2), strides=(2, 2))
