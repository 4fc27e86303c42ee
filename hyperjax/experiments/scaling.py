"""The performance suite on 1..N devices, and a 100M-parameter target generated sharded.

Each standard case builds its experiment's own compiled step (the function training
uses) on a :class:`~hyperjax.training.sharding.Parallelism` over the devices present,
with synthetic inputs of the experiment's shapes, and reports compile time, step time,
examples per second and XLA's per-device memory estimate of the compiled step.
``launch/benchmark.py --suite=scale`` runs this in one process per device count and puts
the results side by side with the scaling efficiency.

References: Navon et al. 2021 (PHN step, chunked ResNet-18 hypernetwork); Cubelier 2022
(sparse hypernetwork); Ha, Dai & Le 2017 (static MNIST hypernetwork).
"""

from __future__ import annotations

import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

import ml_collections

from hyperjax.benchmarks import compiled_bytes, multi_mnist_batch, phn_model, time_call
from hyperjax.hypernets import PHN_RESNET18_PRESETS, ChunkedHypernet
from hyperjax.pareto import solvers
from hyperjax.pareto.step import make_pareto_step
from hyperjax.training import sharding


def _measure(step: Callable, state: Any, args: tuple, repeats: int) -> tuple[dict, Any]:
  """Compile ``step`` for ``(state, *args)``, then time it (state threaded, donated)."""
  start = time.perf_counter()
  compiled = step.lower(state, *args).compile()  # type: ignore[attr-defined]
  compile_s = time.perf_counter() - start
  holder = {"state": state}

  def call():
    holder["state"], metrics = compiled(holder["state"], *args)
    return metrics

  timing = time_call(call, repeats)
  timing["compile_s"] = compile_s
  loss = float(call()["loss"])  # after 2 + repeats steps: comparable across meshes
  return ({**timing, "bytes_per_device": compiled_bytes(compiled), "final_loss": loss},
          holder["state"])


def _row(case: str, par: sharding.Parallelism, examples: int, timing: dict, **extra) -> dict:
  row = {"case": case, "devices": par.mesh.devices.size, "mesh": par.axis_sizes, **extra,
         **timing, "examples_per_s": examples / timing["median_s"]}
  print(f"  {case} on {row['devices']} device(s): {timing['median_s'] * 1e3:.1f} ms/step, "
        f"compile {timing['compile_s']:.1f} s", flush=True)
  return row


def bench_phn(par_for: Callable[[int], sharding.Parallelism], num_rays_list=(1, 16, 64),
              batch_size: int = 256, repeats: int = 5) -> list[dict]:
  """PHN-LS step (LeNet target, MLP hypernet) with ``num_rays`` rays: one ray sees the
  whole batch; several rays split it (``ray_batching='split'``)."""
  rows = []
  images, labels = multi_mnist_batch(batch_size)
  for num_rays in num_rays_list:
    par = par_for(num_rays)
    target, hnet, variables = phn_model()
    par = par.for_model(hnet)
    optimizer = optax.adam(1e-4)
    batching = "whole" if num_rays == 1 else "split"
    step = make_pareto_step(hnet, target, optimizer, solvers.ls(), num_objectives=2,
                            num_rays=num_rays, ray_batching=batching, par=par)
    args = (par.shard_batch((images, labels)), par.replicate(jax.random.key(0)))
    timing, _ = _measure(step, par.create_train_state(optimizer, variables), args, repeats)
    rows.append(_row(f"phn_ls_rays{num_rays}", par, batch_size, timing, batching=batching))
  return rows


def bench_chunked_resnet18(par: sharding.Parallelism, batch_size: int = 32, preset: str = "11M",
                           repeats: int = 3) -> list[dict]:
  """PHN's chunked hypernetwork generating the 11.4M-parameter ResNet-18, one ray."""
  num_chunks, num_ws = PHN_RESNET18_PRESETS[preset]
  target, hnet, variables = phn_model(
      {"name": "phn_resnet18"},
      {"family": "chunked", "conditioner": {"vector_projection": 32},
       "kwargs": {"num_chunks": num_chunks, "num_ws": num_ws, "chunk_size": 10_000,
                  "chunk_embedding_dim": 64, "hidden": (100, 100, 100)},
       "init": "hyperfan_in", "init_scale": 2.0})
  par = par.for_model(hnet)
  optimizer = optax.adam(1e-4)
  step = make_pareto_step(hnet, target, optimizer, solvers.ls(), num_objectives=2, par=par)
  images, labels = multi_mnist_batch(batch_size)
  args = (par.shard_batch((images, labels)), par.replicate(jax.random.key(0)))
  timing, _ = _measure(step, par.create_train_state(optimizer, variables), args, repeats)
  return [_row(f"chunked_resnet18_{preset}", par, batch_size, timing,
               hnet_params=sum(x.size for x in jax.tree.leaves(variables)))]


def bench_sparse_multitask(par: sharding.Parallelism, num_tasks: int = 4, batch_size: int = 128,
                           repeats: int = 3) -> list[dict]:
  """Sparse hypernetwork step generating an MLP of ~1e6 weights for every task at once."""
  from hyperjax.experiments.multitask import make_train_steps  # pylint: disable=g-import-not-at-top
  from hyperjax.hypernets import SparseHypernet  # pylint: disable=g-import-not-at-top
  from hyperjax.targets import make_target  # pylint: disable=g-import-not-at-top
  target = make_target("mlp", input_shape=(784,), hidden=(1000, 200), num_outputs=10)
  hnet = SparseHypernet.for_tasks(target.spec, num_tasks=num_tasks)
  variables = hnet.init(jax.random.key(0), jnp.int32(0))
  par = par.for_model(hnet)
  optimizer = optax.adam(1e-3)
  update_all, _ = make_train_steps(hnet, target, optimizer, num_tasks, par)
  rng = np.random.default_rng(0)
  xs = rng.uniform(0, 1, (num_tasks, batch_size, 784)).astype(np.float32)
  ys = rng.integers(0, 10, (num_tasks, batch_size)).astype(np.int32)
  args = tuple(par.shard_batch((xs, ys), leading="task"))
  timing, _ = _measure(update_all, par.create_train_state(optimizer, variables), args, repeats)
  return [_row("sparse_mlp_1e6", par, num_tasks * batch_size, timing, P=target.num_params,
               hnet_params=sum(x.size for x in jax.tree.leaves(variables)))]


def bench_static_mnist(par: sharding.Parallelism, batch_size: int = 1000, repeats: int = 3
                       ) -> list[dict]:
  """Ha et al.'s MNIST Hyper4_4 step (batch 1000, the protocol's)."""
  from hyperjax.experiments import static  # pylint: disable=g-import-not-at-top
  config = ml_collections.ConfigDict({
      "seed": 0, "target": {"name": "mnist_two_conv", "kwargs": {}},
      "hypernet": {"generated": r"Conv_1/kernel", "embedding_dim": 4, "projection_dim": 4,
                   "kernel_size": 7}})
  target, model, params, bn_state = static.build(config, (28, 28, 1))
  optimizer = optax.adam(1e-3)
  update = static.make_train_step(target, model, optimizer, par)
  state = par.create_train_state(optimizer, params, state=bn_state)
  rng = np.random.default_rng(0)
  x = rng.uniform(0, 1, (batch_size, 28, 28, 1)).astype(np.float32)
  y = rng.integers(0, 10, batch_size).astype(np.int32)
  args = (*par.shard_batch((x, y)), par.replicate(jax.random.key(0)))
  timing, _ = _measure(update, state, args, repeats)
  return [_row("static_mnist_hyper4_4", par, batch_size, timing)]


def standard_cases(repeats: int = 3) -> list[dict]:
  """All standard cases on every device (data parallel; rays split over a ray axis)."""
  devices = jax.device_count()
  par = sharding.make_parallelism("data=-1")
  by_rays = lambda n: sharding.make_parallelism("ray=-1" if n % devices == 0 and n > 1
                                                else "data=-1")
  rows = bench_phn(by_rays, repeats=repeats)
  rows += bench_chunked_resnet18(par, repeats=repeats)
  rows += bench_sparse_multitask(par, repeats=repeats)
  rows += bench_static_mnist(par, repeats=repeats)
  return rows


# The target's dense kernels split along their output features (tensor parallelism).
LARGE_TARGET_RULES = ChunkedHypernet.sharding_rules + ((r"Dense_\d+/kernel$", (None, "model")),)


def bench_large_target(mesh: str = "data=1,model=-1", hidden: tuple[int, ...] = (8192, 8192),
                       input_dim: int = 4096, chunk_size: int = 1_000_000, batch_size: int = 8,
                       repeats: int = 2) -> list[dict]:
  """A chunked hypernetwork generating an MLP of ~100M weights, everything sharded.

  The hypernetwork's output matrix (``ws``, ``[1, 64, chunk_size]``) is split along
  ``'model'`` and created already sharded; the generated kernels are laid out along
  ``'model'`` too. One step: generate all weights, run the target on a batch,
  backpropagate into the hypernetwork, Adam update. Reports XLA's memory estimate per
  device beside the size of the target.
  """
  from hyperjax.experiments.multitask import make_train_steps  # pylint: disable=g-import-not-at-top
  from hyperjax.hypernets import Conditioner, make_hypernet  # pylint: disable=g-import-not-at-top
  from hyperjax.targets import make_target  # pylint: disable=g-import-not-at-top
  par = sharding.make_parallelism(mesh, rules=LARGE_TARGET_RULES)
  target = make_target("mlp", input_shape=(input_dim,), hidden=hidden, num_outputs=10)
  hnet = make_hypernet("chunked", target.spec,
                       Conditioner(num_embeddings=2, embedding_dim=32, normalize=True),
                       chunk_size=chunk_size, num_ws=1, hidden=(64, 64), w_stddev=1e-3)
  optimizer = optax.adam(1e-4)
  weights_layout = lambda w: jax.tree_util.tree_map_with_path(
      lambda p, x: par.constrain(x, *par.leaf_spec(sharding.path_name(p), x.shape)), w)

  class Sharded:
    """The hypernetwork with its generated weights laid out by the rules."""

    @staticmethod
    def apply(variables, cond):
      return weights_layout(hnet.apply(variables, cond))

  start = time.perf_counter()
  state = par.create_state(
      lambda: {"params": (v := hnet.init(jax.random.key(0), jnp.int32(0))),
               "opt_state": optimizer.init(v)})
  init_s = time.perf_counter() - start
  update_all, _ = make_train_steps(Sharded, target, optimizer, 1, par)
  rng = np.random.default_rng(0)
  xs = rng.normal(size=(1, batch_size, input_dim)).astype(np.float32)
  ys = rng.integers(0, 10, (1, batch_size)).astype(np.int32)
  args = tuple(par.shard_batch((xs, ys), leading="task"))
  timing, state = _measure(update_all, state, args, repeats)
  ws = state["params"]["params"]["ws"]
  per_device_ws = max(s.data.size for s in ws.addressable_shards)
  row = _row("chunked_100M_target", par, batch_size, timing, P=target.num_params,
             hnet_params=sum(x.size for x in jax.tree.leaves(state["params"])), init_s=init_s,
             ws_shape=list(ws.shape), ws_per_device=per_device_ws,
             target_bytes=4 * target.num_params)
  print(f"  target {target.num_params:,} weights; hypernet {row['hnet_params']:,} params; "
        f"XLA estimate {row['bytes_per_device'] / 2**30:.2f} GiB per device", flush=True)
  return [row]
