"""Static hypernetworks (Ha, Dai & Le): learned layer embeddings -> convolution kernels.

One small two-layer linear hypernetwork is shared by all generated layers. From a layer
embedding ``z`` (``N_z`` dims), for each of the ``N_in`` input channels of a basic kernel,
``a_i = W_i z + B_i`` (``d`` dims), then ``K_i = <W_out, a_i> + B_out`` (``f x N_out f``);
``K = concat_i K_i`` is one ``f x f x N_in x N_out`` basic kernel. A layer whose channel
counts are multiples of the basic size (16 x 16) is tiled from several basic kernels, each
with its own embedding (a 32 -> 32 layer uses 4). Which layers are generated is chosen by
a regular expression on leaf names; every other leaf of the target is an ordinary
parameter with the target's usual initialisation.

Reference: Ha, Dai, Le. "HyperNetworks", ICLR 2017 (sections 3.1 and 4.1, appendix A.1):
the MNIST hypernetwork generating the 7x7x16x16 kernel from a 4-dim embedding has 4,240
parameters (plus the embedding's 4); Wide ResNets use ``N_z = 64``.
"""

from __future__ import annotations

import dataclasses
import re

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from hyperjax.hypernets.init import plain_leaf_init
from hyperjax.spec import LeafSpec, WeightSpec


class KernelHypernet(nn.Module):
  """Ha et al.'s two-layer linear map ``z [N_z] -> basic kernel [f, f, N_in, N_out]``.

  Parameters: ``N_in (N_z d + d) + d f^2 N_out + f^2 N_out``. Initialised so that a
  unit-variance embedding gives kernels of variance ``kernel_variance`` (He for the basic
  kernel's fan-in ``f^2 N_in`` by default).

  Attributes:
    embedding_dim: ``N_z``.
    projection_dim: ``d``.
    kernel_size: ``f``.
    in_channels: ``N_in`` of the basic kernel.
    out_channels: ``N_out`` of the basic kernel.
    kernel_variance: target variance of the generated kernels (None: ``2 / (f^2 N_in)``).
  """

  embedding_dim: int
  projection_dim: int
  kernel_size: int
  in_channels: int = 16
  out_channels: int = 16
  kernel_variance: float | None = None

  @nn.compact
  def __call__(self, z: jax.Array) -> jax.Array:
    f, n_in, n_out, d = self.kernel_size, self.in_channels, self.out_channels, self.projection_dim
    variance = self.kernel_variance or 2.0 / (f * f * n_in)
    w_in = self.param("w_in", nn.initializers.normal(self.embedding_dim ** -0.5),
                      (n_in, self.embedding_dim, d))
    b_in = self.param("b_in", nn.initializers.zeros, (n_in, d))
    w_out = self.param("w_out", nn.initializers.normal((variance / d) ** 0.5), (d, f * n_out * f))
    b_out = self.param("b_out", nn.initializers.zeros, (f * n_out * f,))
    a = jnp.einsum("z,izd->id", z, w_in) + b_in  # [N_in, d]
    k = a @ w_out + b_out  # [N_in, f * N_out * f]: K_i is f x (N_out f)
    return k.reshape(n_in, f, n_out, f).transpose(1, 3, 0, 2)  # [f, f, N_in, N_out]


@dataclasses.dataclass(frozen=True)
class GeneratedLayer:
  """A target kernel built from ``tiles_in x tiles_out`` basic kernels."""

  leaf_index: int
  name: str
  tiles_in: int
  tiles_out: int
  first_embedding: int

  @property
  def num_embeddings(self) -> int:
    return self.tiles_in * self.tiles_out


def plan_generated_layers(spec: WeightSpec, pattern: str, kernel_size: int, in_channels: int = 16,
                          out_channels: int = 16) -> tuple[GeneratedLayer, ...]:
  """The kernels matching ``pattern`` (``re.fullmatch`` on leaf names), with their tiling.

  Raises ValueError, naming the leaf, for a match that is not an ``f x f`` convolution
  kernel with channel counts multiples of the basic kernel's, or when nothing matches.
  """
  layers, first = [], 0
  for i, leaf in enumerate(spec.leaves):
    if not re.fullmatch(pattern, leaf.name):
      continue
    _check_generatable(leaf, kernel_size, in_channels, out_channels)
    tiles = (leaf.shape[2] // in_channels, leaf.shape[3] // out_channels)
    layers.append(GeneratedLayer(i, leaf.name, *tiles, first))
    first += tiles[0] * tiles[1]
  if not layers:
    names = ", ".join(l.name for l in spec.leaves if l.kind == "kernel")
    raise ValueError(f"generated={pattern!r} matches no target leaf; kernels are: {names}.")
  return tuple(layers)


def _check_generatable(leaf: LeafSpec, f: int, n_in: int, n_out: int) -> None:
  ok = (leaf.kind == "kernel" and len(leaf.shape) == 4 and leaf.shape[:2] == (f, f)
        and leaf.shape[2] % n_in == 0 and leaf.shape[3] % n_out == 0)
  if not ok:
    raise ValueError(f"{leaf.name} {leaf.shape} cannot be generated: the static hypernetwork "
                     f"makes {f}x{f} convolution kernels whose channels are multiples of "
                     f"{n_in} (in) and {n_out} (out); change the `generated` pattern.")


class StaticHypernet(nn.Module):
  """All weights of a target, with the kernels matching ``generated`` made by one
  shared :class:`KernelHypernet` from learned layer embeddings; ``apply(params)``.

  Attributes:
    spec: the target's weight spec.
    generated: regular expression (full match) on leaf names, e.g. ``'Conv_1/kernel'``.
    embedding_dim: ``N_z``.
    projection_dim: ``d``.
    kernel_size: ``f`` of every generated kernel.
    basic_in: input channels of a basic kernel (16 in Ha et al.).
    basic_out: output channels of a basic kernel.
  """

  spec: WeightSpec
  generated: str
  embedding_dim: int = 4
  projection_dim: int = 4
  kernel_size: int = 7
  basic_in: int = 16
  basic_out: int = 16

  def plan(self) -> tuple[GeneratedLayer, ...]:
    return plan_generated_layers(self.spec, self.generated, self.kernel_size, self.basic_in,
                                 self.basic_out)

  def setup(self):
    layers = self.plan()
    self.layers_ = layers
    generated = {l.leaf_index for l in layers}
    self.hypernet = KernelHypernet(self.embedding_dim, self.projection_dim, self.kernel_size,
                                   self.basic_in, self.basic_out)
    total = sum(l.num_embeddings for l in layers)
    self.layer_embeddings = self.param("layer_embeddings", nn.initializers.normal(1.0),
                                       (total, self.embedding_dim))
    self.ordinary = {
        i: self.param("_".join(leaf.path), plain_leaf_init(leaf), leaf.shape)
        for i, leaf in enumerate(self.spec.leaves) if i not in generated}

  def basic_kernels(self) -> jax.Array:
    """Every basic kernel ``[num_embeddings, f, f, basic_in, basic_out]``, one batched call."""
    return jax.vmap(self.hypernet)(self.layer_embeddings)

  def __call__(self) -> dict:
    basics = self.basic_kernels()
    arrays = []
    by_leaf = {l.leaf_index: l for l in self.layers_}
    for i, leaf in enumerate(self.spec.leaves):
      layer = by_leaf.get(i)
      if layer is None:
        arrays.append(self.ordinary[i])
        continue
      tiles = basics[layer.first_embedding:layer.first_embedding + layer.num_embeddings]
      f = self.kernel_size
      tiles = tiles.reshape(layer.tiles_in, layer.tiles_out, f, f, self.basic_in, self.basic_out)
      kernel = tiles.transpose(2, 3, 0, 4, 1, 5).reshape(leaf.shape)
      # Tiled layers have tiles_in x the basic fan-in: rescale to keep He's variance.
      arrays.append((kernel / np.sqrt(layer.tiles_in)).astype(leaf.dtype))
    return self.spec.treedef.unflatten(arrays)

  def num_generator_params(self) -> int:
    """Parameters that replace the generated kernels: the shared hypernetwork plus the
    layer embeddings (Ha et al.'s count; e.g. 4,244 for Hyper4_4 on MNIST)."""
    f, d, z = self.kernel_size, self.projection_dim, self.embedding_dim
    hyper = self.basic_in * (z * d + d) + d * f * f * self.basic_out + f * f * self.basic_out
    return hyper + sum(l.num_embeddings for l in self.plan()) * z
