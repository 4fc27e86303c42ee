"""Weight specs: what a hypernetwork must produce for a given target network.

A :class:`WeightSpec` is derived from a Flax module itself (shapes and dtypes via
``jax.eval_shape``, never a hand-written shape table). It lists every trainable leaf of
the target with its path, shape, dtype, kind (``kernel`` / ``bias`` / ``scale`` /
``embedding`` / ``other``), fan-in, fan-out and layer index (the order in which the
owning module is first called), and converts between a weight pytree and one flat
vector, the representation that chunked and sparse hypernetworks produce.

Fan-in / fan-out follow the Glorot convention used by
``jax.nn.initializers.variance_scaling``: a kernel of shape ``[*receptive, in, out]``
has ``fan_in = prod(receptive) * in`` and ``fan_out = prod(receptive) * out``. A bias
or a normalisation parameter takes the fan-in of the kernel of its own module when
there is one (its size otherwise) and its size as fan-out. An embedding table
``[num_embeddings, features]`` counts as Flax's ``nn.Embed`` initialiser counts it
(``variance_scaling(1, 'fan_in', out_axis=0)``: ``Var = 1 / features``): ``fan_in =
features``, ``fan_out = num_embeddings``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import jax
import jax.numpy as jnp
from flax import linen as nn

KINDS = ("kernel", "bias", "scale", "embedding", "other")


@dataclasses.dataclass(frozen=True)
class LeafSpec:
  """One trainable leaf of a target network.

  Attributes:
    path: keys from the root of the weight pytree to the leaf, e.g.
      ``('Conv_0', 'kernel')``.
    shape: the leaf's shape.
    dtype: the leaf's dtype, as a NumPy dtype name (``'float32'``).
    kind: ``kernel``, ``bias``, ``scale``, ``embedding`` or ``other``.
    fan_in: Glorot fan-in (see module docstring).
    fan_out: Glorot fan-out.
    layer: index of the owning module in call order (0 = first module called).
    offset: where the leaf starts in the flat weight vector.
  """

  path: tuple[str, ...]
  shape: tuple[int, ...]
  dtype: str
  kind: str
  fan_in: int
  fan_out: int
  layer: int
  offset: int

  @property
  def size(self) -> int:
    return math.prod(self.shape)

  @property
  def name(self) -> str:
    """The path joined with '/', e.g. ``'Conv_0/kernel'``."""
    return "/".join(self.path)

  @property
  def module_path(self) -> tuple[str, ...]:
    return self.path[:-1]


@dataclasses.dataclass(frozen=True)
class WeightSpec:
  """The trainable leaves of a target, in pytree-flattening order.

  Attributes:
    leaves: one :class:`LeafSpec` per trainable leaf, in the order of
      ``jax.tree.leaves`` of the weight pytree (so ``offset`` is increasing).
    treedef: the weight pytree's structure.
  """

  leaves: tuple[LeafSpec, ...]
  treedef: Any

  # ---- counts --------------------------------------------------------------
  @property
  def size(self) -> int:
    """Total number of trainable scalars (the flat vector's length)."""
    return sum(leaf.size for leaf in self.leaves)

  @property
  def num_leaves(self) -> int:
    return len(self.leaves)

  @property
  def num_layers(self) -> int:
    return 1 + max((leaf.layer for leaf in self.leaves), default=-1)

  def count(self, kind: str | None = None) -> int:
    """Number of scalars, optionally only of one kind."""
    return sum(l.size for l in self.leaves if kind is None or l.kind == kind)

  def __getitem__(self, name: str) -> LeafSpec:
    for leaf in self.leaves:
      if leaf.name == name:
        return leaf
    raise KeyError(f"No leaf named {name!r}; leaves are {[l.name for l in self.leaves]}")

  # ---- pytree <-> flat -----------------------------------------------------
  def shapes(self) -> Any:
    """The weight pytree of ``jax.ShapeDtypeStruct`` leaves."""
    return self.treedef.unflatten(
        [jax.ShapeDtypeStruct(l.shape, jnp.dtype(l.dtype)) for l in self.leaves])

  def flatten(self, weights: Any) -> jax.Array:
    """Weight pytree -> flat vector ``[size]`` (leaves concatenated in order).

    Leading batch dimensions shared by all leaves are kept:
    ``[*batch, *leaf.shape]`` leaves give ``[*batch, size]``.
    """
    arrays = self.treedef.flatten_up_to(weights)
    batch = arrays[0].shape[: arrays[0].ndim - len(self.leaves[0].shape)]
    parts = [a.reshape(*batch, l.size) for a, l in zip(arrays, self.leaves)]
    return jnp.concatenate(parts, axis=-1)

  def split_flat(self, flat: jax.Array) -> list[jax.Array]:
    """Flat vector ``[..., size]`` -> per-leaf pieces ``[..., leaf.size]`` (in order).

    One ``split`` rather than a slice per leaf: its gradient is one concatenation,
    where per-leaf slices would each pad their gradient back to the full vector
    (for PHN's chunked ResNet-18, ~3 GB of temporaries instead of ~50 MB).
    """
    if flat.shape[-1] != self.size:
      raise ValueError(
          f"Flat weight vector has {flat.shape[-1]} entries but the target has "
          f"{self.size} trainable parameters; slice or pad it to {self.size}.")
    return jnp.split(flat, [l.offset for l in self.leaves[1:]], axis=-1)

  def unflatten(self, flat: jax.Array) -> Any:
    """Flat vector ``[..., size]`` -> weight pytree with the target's structure.

    Each leaf is cast to its spec dtype. Extra trailing entries (padding from
    chunked hypernetworks) are an error: slice them off first.
    """
    batch = flat.shape[:-1]
    arrays = [piece.reshape(*batch, *l.shape).astype(l.dtype)
              for piece, l in zip(self.split_flat(flat), self.leaves)]
    return self.treedef.unflatten(arrays)

  def assemble(self, raw: Sequence[jax.Array], scales: Sequence[float] | None = None) -> Any:
    """Raw per-leaf outputs ``[..., leaf.size]`` -> the weight pytree.

    Leaf ``i`` becomes ``base_i + scales[i] * raw[i]`` reshaped to its shape and cast
    to its dtype, with ``base`` from :meth:`base_values`. Every hypernetwork family
    ends with this step.
    """
    if len(raw) != self.num_leaves:
      raise ValueError(f"Got {len(raw)} raw outputs for {self.num_leaves} target leaves.")
    scales = scales or [1.0] * self.num_leaves
    arrays = []
    for r, leaf, scale, base in zip(raw, self.leaves, scales, self.base_values()):
      value = r * scale if scale != 1.0 else r
      value = value + base if base else value
      arrays.append(value.reshape(*r.shape[:-1], *leaf.shape).astype(leaf.dtype))
    return self.treedef.unflatten(arrays)

  def check(self, weights: Any, *, batch_shape: tuple[int, ...] = ()) -> None:
    """Raises ValueError unless ``weights`` has exactly this spec's structure."""
    structure = jax.tree.structure(weights)
    if structure != self.treedef:
      raise ValueError(f"Weight pytree structure {structure} differs from the target's "
                       f"{self.treedef}.")
    for array, leaf in zip(jax.tree.leaves(weights), self.leaves):
      want = (*batch_shape, *leaf.shape)
      if tuple(array.shape) != want or jnp.dtype(array.dtype) != jnp.dtype(leaf.dtype):
        raise ValueError(f"Leaf {leaf.name} is {array.shape} {array.dtype}; the target "
                         f"needs {want} {leaf.dtype}.")

  # ---- per-leaf constants used by hypernetwork output heads ------------------
  def base_values(self) -> list[float]:
    """The value around which each leaf is generated: 1 for ``scale`` leaves, else 0.

    Hypernetworks generate normalisation scales as residuals around one so that a
    freshly initialised hypernetwork does not switch the target's activations off.
    """
    return [1.0 if leaf.kind == "scale" else 0.0 for leaf in self.leaves]

  def summary(self) -> str:
    """A human-readable table of the leaves and the totals."""
    rows = [f"{'layer':>5}  {'leaf':<40} {'shape':<20} {'kind':<9} {'fan_in':>7} "
            f"{'fan_out':>7} {'params':>10}"]
    for l in self.leaves:
      rows.append(f"{l.layer:>5}  {l.name:<40} {str(l.shape):<20} {l.kind:<9} "
                  f"{l.fan_in:>7} {l.fan_out:>7} {l.size:>10,}")
    rows.append(f"total: {self.size:,} parameters in {self.num_leaves} leaves, "
                f"{self.num_layers} layers")
    return "\n".join(rows)


# ---- building specs -------------------------------------------------------------


def _key_name(key: Any) -> str:
  for attr in ("key", "name", "idx"):
    if hasattr(key, attr):
      return str(getattr(key, attr))
  return str(key)


def _kind(name: str) -> str:
  if name in ("kernel", "bias", "scale", "embedding"):
    return name
  return "other"


def _kernel_fans(shape: tuple[int, ...]) -> tuple[int, int]:
  if len(shape) == 0:
    return 1, 1
  if len(shape) == 1:
    return shape[0], shape[0]
  receptive = math.prod(shape[:-2])
  return receptive * shape[-2], receptive * shape[-1]


def spec_from_shapes(shapes: Any, module_order: Sequence[tuple[str, ...]] = ()) -> WeightSpec:
  """Builds a :class:`WeightSpec` from a pytree of arrays or ShapeDtypeStructs.

  Args:
    shapes: the weight pytree (only ``.shape`` and ``.dtype`` of leaves are read).
    module_order: module paths in call order; sets each leaf's ``layer``. Modules
      not listed are numbered after the listed ones, in pytree order.

  Returns:
    The spec.
  """
  flat, treedef = jax.tree_util.tree_flatten_with_path(shapes)
  paths = [tuple(_key_name(k) for k in path) for path, _ in flat]
  order = {tuple(p): i for i, p in enumerate(module_order)}
  # Modules that own parameters, numbered by call order (then pytree order).
  owners: list[tuple[str, ...]] = []
  for path in paths:
    if path[:-1] not in owners:
      owners.append(path[:-1])
  pytree_rank = {m: i for i, m in enumerate(owners)}
  owners.sort(key=lambda m: (order.get(m, len(order)), pytree_rank[m]))
  layer_of = {m: i for i, m in enumerate(owners)}
  # Fan-in of each module's kernel, for its biases and scales.
  kernel_fan_in = {}
  for path, (_, leaf) in zip(paths, flat):
    if _kind(path[-1]) == "kernel":
      kernel_fan_in[path[:-1]] = _kernel_fans(tuple(leaf.shape))[0]

  leaves = []
  offset = 0
  for path, (_, leaf) in zip(paths, flat):
    shape = tuple(int(d) for d in leaf.shape)
    kind = _kind(path[-1])
    if kind == "kernel":
      fan_in, fan_out = _kernel_fans(shape)
    elif kind == "embedding":  # as nn.Embed's init counts them (module docstring)
      fan_in, fan_out = shape[-1], shape[0]
    else:
      size = math.prod(shape)
      fan_in, fan_out = kernel_fan_in.get(path[:-1], size), size
    leaves.append(
        LeafSpec(path=path, shape=shape, dtype=jnp.dtype(leaf.dtype).name, kind=kind,
                 fan_in=fan_in, fan_out=fan_out, layer=layer_of[path[:-1]], offset=offset))
    offset += math.prod(shape)
  return WeightSpec(leaves=tuple(leaves), treedef=treedef)


def linen_call_order(module: nn.Module, *args, method: str = "__call__", **kwargs
                     ) -> tuple[Any, list[tuple[str, ...]]]:
  """Abstractly initialises a Linen module, recording the order modules are called.

  Returns:
    ``(variables, order)``: the variables as ShapeDtypeStructs (no memory is
    allocated) and the module paths in first-call order.
  """
  order: list[tuple[str, ...]] = []

  def record(next_fun, f_args, f_kwargs, context):
    path = tuple(context.module.path)
    if context.method_name == "__call__" and path not in order:
      order.append(path)
    return next_fun(*f_args, **f_kwargs)

  with nn.intercept_methods(record):
    variables = jax.eval_shape(
        lambda rng, *a: module.init(rng, *a, method=method, **kwargs), jax.random.key(0),
        *args)
  return variables, order


def weight_spec(module: nn.Module, *args, **kwargs) -> WeightSpec:
  """The :class:`WeightSpec` of a Flax Linen module's ``params`` collection.

  Args:
    module: any Linen module.
    *args: sample inputs for ``module.init`` (arrays or ShapeDtypeStructs; only
      shapes matter, nothing is computed).
    **kwargs: keyword inputs for ``module.init`` (e.g. ``train=False``).

  Returns:
    The spec of the trainable parameters.
  """
  variables, order = linen_call_order(module, *args, **kwargs)
  if "params" not in variables:
    raise ValueError(f"{type(module).__name__} has no trainable parameters to generate.")
  return spec_from_shapes(variables["params"], order)
