"""Rotation-prediction data of the modularity experiment.

Reference:
  Galanti & Wolf. "On the Modularity of Hypernetworks", NeurIPS 2020: the input is an
  image I, the second input y is the same image rotated by one of 12 angles
  (multiples of 30 degrees), and the label is the angle's index.
"""

from __future__ import annotations

import numpy as np

NUM_BINS = 12


def rotate(images: np.ndarray, degrees: float) -> np.ndarray:
  """Rotates ``[n, H, W, C]`` images counter-clockwise about their centre.

  Bilinear interpolation; pixels that come from outside the image are 0.
  """
  n, h, w, c = images.shape
  theta = np.deg2rad(degrees)
  cy, cx = (h - 1) / 2, (w - 1) / 2
  yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
  # Inverse map: where each output pixel comes from in the input.
  dy, dx = yy - cy, xx - cx
  src_y = cy + np.cos(theta) * dy + np.sin(theta) * dx
  src_x = cx - np.sin(theta) * dy + np.cos(theta) * dx
  y0, x0 = np.floor(src_y).astype(int), np.floor(src_x).astype(int)
  wy, wx = src_y - y0, src_x - x0
  out = np.zeros_like(images, dtype=np.float32)
  for oy, ox, weight in ((0, 0, (1 - wy) * (1 - wx)), (1, 0, wy * (1 - wx)),
                         (0, 1, (1 - wy) * wx), (1, 1, wy * wx)):
    sy, sx = y0 + oy, x0 + ox
    valid = (sy >= 0) & (sy < h) & (sx >= 0) & (sx < w)
    sample = images[:, np.clip(sy, 0, h - 1), np.clip(sx, 0, w - 1), :]
    out += sample * (weight * valid)[None, :, :, None]
  return out.astype(images.dtype) if np.issubdtype(images.dtype, np.floating) else out


def rotation_task(images: np.ndarray, seed: int, num_bins: int = NUM_BINS
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """``(I, y, label)``: each image, its rotation by ``label * 360 / num_bins`` degrees, label.

  Args:
    images: ``[n, H, W, C]`` float images.
    seed: the angles are drawn uniformly from this seed.
    num_bins: number of angle classes (12 = 30-degree bins).
  """
  labels = np.random.default_rng(seed).integers(0, num_bins, len(images)).astype(np.int32)
  rotated = np.empty_like(images, dtype=np.float32)
  for k in range(num_bins):
    sel = np.flatnonzero(labels == k)
    if len(sel):
      rotated[sel] = rotate(images[sel].astype(np.float32), k * 360.0 / num_bins)
  return images, rotated, labels
