"""Meshes and shardings from the config: every experiment on 1 device, N devices or N hosts.

One :class:`Parallelism` per run holds a ``jax.make_mesh`` mesh with named axes and a small
table of sharding rules (regex on a parameter's path -> partition spec of its trailing
dimensions). It creates the train state already sharded (``jax.jit(init,
out_shardings=...)``), compiles steps with the state donated and its shardings fixed, and
puts batches on the mesh split along ``'data'`` (and a leading ray or task axis along
its own mesh axis). With several processes (``jax.distributed.initialize``), each process
materialises only its slice of every batch (``jax.make_array_from_process_local_data``).

Mesh axes (``config.mesh``, e.g. ``'data=4,model=2'``; ``-1`` takes the remaining
devices; default ``'data=-1'``):

* ``data``: examples of a batch (data parallelism; gradients are all-reduced by XLA).
* ``model``: the large hypernetwork leaves its family declares (``sharding_rules``:
  output heads, chunk matrices, sparse-layer values) and the generated weights computed
  from them.
* ``ray`` / ``task``: the sampled preference rays of a Pareto step / the tasks of a
  multi-task step (the leading axis of what is vmapped).

The mesh's axes are ``AxisType.Auto``: XLA's sharding propagation places everything the
rules do not, so any Flax target runs unchanged; everything is ``jax.jit`` with shardings.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Callable, Sequence

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

MESH_AXES = ("data", "model", "ray", "task")
# Regex on a state leaf's path ('/'-joined; optimizer moments contain the parameter's
# path too) -> partition spec of its trailing dimensions. First match wins; leaves that
# match nothing, or whose dimension the axis does not divide, are replicated. Each
# hypernetwork family declares its own rules (``sharding_rules``, see
# hyperjax.hypernets.protocol); :meth:`Parallelism.for_model` adds them.
DEFAULT_RULES: tuple[tuple[str, tuple[str | None, ...]], ...] = ()


class ShardingError(ValueError):
  """A mesh or batch that does not fit the devices; the message says how to fix it."""


def parse_mesh(spec: str, num_devices: int) -> tuple[tuple[str, ...], tuple[int, ...]]:
  """``'data=4,model=2'`` -> ``(('data', 'model'), (4, 2))``; one ``-1`` fills the rest.

  A mesh smaller than ``num_devices`` uses the first devices (``'data=1'``: one device).
  """
  names, sizes = [], []
  for part in filter(None, (p.strip() for p in (spec or "data=-1").split(","))):
    name, _, size = part.partition("=")
    if name not in MESH_AXES or name in names or not re.fullmatch(r"-1|\d+", size):
      raise ShardingError(f"Bad mesh entry {part!r} in {spec!r}: write axis=size pairs, e.g. "
                          f"'data=4,model=2', with axes from {MESH_AXES} (each once) and one "
                          "size -1 at most (the remaining devices).")
    names.append(name)
    sizes.append(int(size))
  if sizes.count(-1) > 1 or 0 in sizes:
    raise ShardingError(f"Mesh {spec!r}: sizes must be positive, with one -1 at most.")
  known = math.prod(s for s in sizes if s != -1)
  if -1 in sizes:
    if num_devices % known:
      raise ShardingError(f"Mesh {spec!r}: {num_devices} devices are not a multiple of {known}.")
    sizes[sizes.index(-1)] = num_devices // known
  if math.prod(sizes) > num_devices:
    raise ShardingError(f"Mesh {spec!r} needs {math.prod(sizes)} devices but there are "
                        f"{num_devices}; make the sizes multiply to {num_devices} at most "
                        "(or use -1).")
  return tuple(names), tuple(sizes)


def path_name(path: Sequence[Any]) -> str:
  return jax.tree_util.keystr(tuple(path), simple=True, separator="/")


@dataclasses.dataclass(frozen=True)
class Parallelism:
  """A mesh plus the sharding rules of one run (see the module docstring)."""

  mesh: Mesh
  rules: tuple[tuple[str, tuple[str | None, ...]], ...] = DEFAULT_RULES

  @property
  def axis_sizes(self) -> dict[str, int]:
    return dict(zip(self.mesh.axis_names, self.mesh.devices.shape))

  def size(self, axis: str) -> int:
    return self.axis_sizes.get(axis, 1)

  def spec(self, *names: str | None) -> P:
    """A partition spec with the axes this mesh lacks left unsplit."""
    return P(*(n if n in self.axis_sizes else None for n in names))

  def replicated(self) -> NamedSharding:
    return NamedSharding(self.mesh, P())

  def for_model(self, hnet: Any) -> "Parallelism":
    """This mesh with the sharding rules that ``hnet``'s family declares put first."""
    from hyperjax.hypernets.protocol import sharding_rules_of  # pylint: disable=g-import-not-at-top
    extra = tuple(r for r in sharding_rules_of(hnet) if r not in self.rules)
    return dataclasses.replace(self, rules=extra + self.rules)

  def leaf_spec(self, path: str, shape: Sequence[int]) -> P:
    """The partition spec of one state leaf (replicated unless a rule matches and fits)."""
    for pattern, trailing in self.rules:
      if not re.search(pattern, path) or len(trailing) > len(shape):
        continue
      spec = (None,) * (len(shape) - len(trailing)) + tuple(trailing)
      spec = tuple(a if a in self.axis_sizes and d % self.size(a) == 0 else None
                   for a, d in zip(spec, shape))
      return P(*spec)
    return P()

  def state_shardings(self, tree: Any) -> Any:
    """NamedShardings for every leaf of a state (arrays or ShapeDtypeStructs)."""
    return jax.tree_util.tree_map_with_path(
        lambda p, x: NamedSharding(self.mesh, self.leaf_spec(path_name(p), np.shape(x))), tree)

  def create_state(self, init_fn: Callable[..., Any], *args: Any) -> Any:
    """``init_fn(*args)`` under ``jax.jit`` with the state's shardings as outputs.

    ``args`` (e.g. initial parameters computed on the host) are replicated first, so
    they enter as arguments rather than as constants folded into the program.
    """
    args = self.replicate(args)
    shardings = self.state_shardings(jax.eval_shape(init_fn, *args))
    return jax.jit(init_fn, out_shardings=shardings)(*args)

  def create_train_state(self, optimizer: Any, params: Any, **extra: Any) -> dict:
    """``{'params', 'opt_state', **extra}`` created sharded (:meth:`create_state`), the
    optimizer state initialised from ``params`` (``extra``: e.g. BatchNorm statistics)."""
    return self.create_state(lambda p, e: {"params": p, "opt_state": optimizer.init(p), **e},
                             params, extra)

  def jit_step(self, fn: Callable[..., tuple[Any, Any]]) -> Callable[..., tuple[Any, Any]]:
    """``jax.jit(fn, donate_argnums=0)`` for ``fn(state, *args) -> (state, metrics)``, with
    the new state sharded as the rules say and the metrics replicated (built on first call)."""
    compiled: dict[str, Callable] = {}

    def jitted(state):
      if "fn" not in compiled:
        compiled["fn"] = jax.jit(fn, donate_argnums=0,
                                 out_shardings=(self.state_shardings(state), self.replicated()))
      return compiled["fn"]

    def step(state, *args):
      return jitted(state)(state, *args)

    step.compiled = compiled  # type: ignore[attr-defined]
    step.lower = lambda state, *args: jitted(state).lower(state, *args)  # type: ignore[attr-defined]
    return step

  def constrain(self, x: Any, *spec: str | None) -> Any:
    """Inside a jitted function: ``x`` laid out as ``spec`` (axes the mesh lacks, or that
    do not divide the dimension, are left to XLA)."""
    spec = tuple(a if a in self.axis_sizes and d % self.size(a) == 0 else None
                 for a, d in zip(spec, np.shape(x)))
    if not any(spec):
      return x
    return jax.lax.with_sharding_constraint(x, NamedSharding(self.mesh, P(*spec)))

  def jit_replicated(self, fn: Callable) -> Callable:
    """``jax.jit(fn)`` with replicated outputs: readable on every process (evaluation)."""
    return jax.jit(fn, out_shardings=self.replicated())

  def replicate(self, tree: Any) -> Any:
    """Host values (the same on every process) replicated over the mesh."""
    return self.put(tree, P())

  def shard_batch(self, tree: Any, leading: str | None = None) -> Any:
    """Host arrays split along ``'data'`` on their batch axis (axis 1 when ``leading``, a
    ray/task axis of the mesh, splits axis 0). Each process contributes only its slice.

    Raises:
      ShardingError: if a batch axis is not divisible by its mesh axis.
    """
    spec = self.spec(leading, "data") if leading is not None else self.spec("data")
    for x in jax.tree.leaves(tree):
      self.check_divisible(np.shape(x), spec)
    return self.put(tree, spec)

  def check_divisible(self, shape: Sequence[int], spec: P) -> None:
    for axis, name in enumerate(spec):
      if name and shape[axis] % self.size(name):
        raise ShardingError(
            f"A batch axis of size {shape[axis]} cannot be split over the {self.size(name)} "
            f"devices of mesh axis {name!r}; choose a batch size (or number of rays/tasks) "
            f"divisible by {self.size(name)}, or another --config.mesh.")

  def put(self, tree: Any, spec: P) -> Any:
    """Host arrays -> global arrays with ``spec``; each process transfers only the slices
    its own devices hold (so with several processes nothing else leaves the host)."""
    sharding = NamedSharding(self.mesh, spec)

    def place(x):
      if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        return jax.random.wrap_key_data(place(jax.random.key_data(x)),
                                        impl=jax.random.key_impl(x))
      x = np.asarray(x)
      return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

    return jax.tree.map(place, tree)

  def gather_rows(self, source: Any, indices: np.ndarray) -> Any:
    """``source[indices]`` split along ``'data'``, each process reading only its rows of
    ``source`` (a pytree of host arrays with a common leading axis)."""
    sharding = NamedSharding(self.mesh, self.spec("data"))
    self.check_divisible((len(indices),), sharding.spec)

    def place(x):
      shape = (len(indices),) + np.shape(x)[1:]
      return jax.make_array_from_callback(
          shape, sharding, lambda index: np.asarray(x[indices[index[0]]])[(slice(None),) + index[1:]])

    return jax.tree.map(place, source)

  def describe(self, state: Any) -> str:
    """One line: the mesh and how much of the state each axis splits."""
    total, split = 0, {}  # type: tuple[int, dict[str, int]]
    for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
      size = int(np.prod(np.shape(leaf)))
      total += size
      for axis in filter(None, self.leaf_spec(path_name(path), np.shape(leaf))):
        split[axis] = split.get(axis, 0) + size
    parts = [f"{a} {100 * n / max(total, 1):.0f}% of the state" for a, n in split.items()]
    return (f"mesh {self.axis_sizes} over {self.mesh.devices.size} devices "
            f"({jax.process_count()} process(es))" + (": split " + ", ".join(parts) if parts else ""))


def make_parallelism(spec: str | None = None, devices: Sequence[Any] | None = None,
                     rules: Sequence[tuple[str, tuple[str | None, ...]]] = DEFAULT_RULES
                     ) -> Parallelism:
  """A :class:`Parallelism` on ``devices`` (default: all devices of all processes)."""
  devices = list(jax.devices() if devices is None else devices)
  names, sizes = parse_mesh(spec or "data=-1", len(devices))
  if math.prod(sizes) < len(devices):
    if jax.process_count() > 1:
      raise ShardingError(f"Mesh {spec!r} leaves devices out; with several processes the mesh "
                          f"must span all {len(devices)} devices.")
    devices = devices[:math.prod(sizes)]
  mesh = jax.make_mesh(sizes, names, axis_types=(AxisType.Auto,) * len(names), devices=devices)
  return Parallelism(mesh, tuple((p, tuple(s)) for p, s in rules))


def from_config(config: Any, batch_size: int | None = None) -> Parallelism:
  """The parallelism of an experiment config (``config.mesh``; default all devices on data).

  With ``batch_size``, a training batch that the ``'data'`` axis cannot split is refused
  here, when the experiment is built, before its workdir is claimed.
  """
  par = make_parallelism(config.get("mesh") or "data=-1")
  if batch_size is not None:
    par.check_divisible((batch_size,), par.spec("data"))
  return par
