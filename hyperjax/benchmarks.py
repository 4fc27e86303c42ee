"""Speed measurements of the standard cases, as tables and JSON (``launch/benchmark.py``).

Every timing is the median of repeated calls after a warm-up call (the compile time is
reported separately), with ``jax.block_until_ready`` so asynchronous dispatch is not
mistaken for speed. Ratios are measured side by side in one run.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from hyperjax import builders
from hyperjax.data import pipeline
from hyperjax.pareto import evaluate as evaluate_lib
from hyperjax.pareto import rays as rays_lib
from hyperjax.pareto.objectives import evaluate_objective, per_head_cross_entropy
from hyperjax.pareto.solvers import make_solver
from hyperjax.pareto.step import make_pareto_step
from hyperjax.pareto.trainer import DEFAULT_HYPERNET, build_pareto_hypernet
from hyperjax.targets import make_target


def time_call(fn: Callable[[], Any], repeats: int) -> dict:
  """``{'compile_s', 'median_s', 'min_s'}`` of ``fn`` (first call = compile + run)."""
  start = time.perf_counter()
  jax.block_until_ready(fn())
  first = time.perf_counter() - start
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - start)
  median = float(np.median(times))
  return {"compile_s": max(first - median, 0.0), "median_s": median, "min_s": float(np.min(times))}


def phn_model(target_block: dict | None = None, hypernet_block: dict | None = None,
              seed: int = 0):
  """``(target, hnet, variables)`` of PHN's LeNet + MLP hypernetwork (or the blocks given),
  built as training builds them."""
  target = builders.build_target(
      target_block or {"name": "phn_lenet", "kwargs": {"conv_impl": "auto"}}, num_tasks=2)
  hnet, variables = build_pareto_hypernet(hypernet_block or DEFAULT_HYPERNET, target, seed,
                                          ray_alpha=0.2, num_objectives=2)
  return target, hnet, variables


def multi_mnist_batch(batch_size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  rng = np.random.default_rng(seed)
  images = rng.uniform(0, 1, (batch_size, 36, 36, 1)).astype(np.float32)
  labels = rng.integers(0, 10, (batch_size, 2)).astype(np.int32)
  return images, labels


def bench_conv_impls(batch_size: int = 256, repeats: int = 10) -> list[dict]:
  """LeNet forward+backward, one ray, for each convolution implementation."""
  rows = []
  images, labels = map(jnp.asarray, multi_mnist_batch(batch_size))
  for impl in ("xla", "patches", "batch_minor"):
    target = make_target("phn_lenet", conv_impl=impl)
    weights = target.init_weights(jax.random.key(0))
    # Data passed as arguments: closed-over arrays would be constant-folded at compile time.
    objective = per_head_cross_entropy()
    grad = jax.jit(jax.grad(lambda w, x, y: jnp.sum(
        evaluate_objective(objective, target.apply(w, x), (x, y))[0])))
    timing = time_call(lambda: grad(weights, images, labels), repeats)
    rows.append({"case": "lenet_fwd_bwd", "conv_impl": impl, "batch": batch_size, **timing})
  return rows


def bench_phn_steps(num_rays_list=(1, 4, 16, 64), batch_size: int = 256, repeats: int = 5,
                    solvers=("ls",), batchings=("whole", "split")) -> list[dict]:
  """The compiled PHN training step (LeNet target, 3.2M-parameter hypernetwork)."""
  target, hnet, variables = phn_model()
  images, labels = map(jnp.asarray, multi_mnist_batch(batch_size))
  optimizer = optax.adam(1e-4)
  rows = []
  for solver in solvers:
    for batching in batchings:
      for num_rays in num_rays_list:
        if batching == "split" and (num_rays == 1 or batch_size % num_rays):
          continue
        step = make_pareto_step(hnet, target, optimizer, make_solver(solver), num_objectives=2,
                                num_rays=num_rays, ray_batching=batching)
        state = {"params": variables, "opt_state": optimizer.init(variables)}
        holder = {"state": jax.tree.map(jnp.copy, state), "i": 0}

        def run():
          holder["i"] += 1
          holder["state"], metrics = step(holder["state"], (images, labels),
                                          jax.random.key(holder["i"]))
          return metrics["loss"]

        timing = time_call(run, repeats if num_rays < 64 else max(2, repeats // 2))
        examples = batch_size * (num_rays if batching == "whole" else 1)
        rows.append({"case": "phn_step", "solver": solver, "batching": batching,
                     "num_rays": num_rays, "batch": batch_size, **timing,
                     "examples_per_s": examples / timing["median_s"],
                     "ray_examples_per_s": batch_size * num_rays / timing["median_s"]
                     if batching == "whole" else batch_size / timing["median_s"]})
  return rows


def bench_epoch_and_pipeline(num_train: int = 108_000, batch_size: int = 256, steps: int = 40,
                             solver: str = "ls") -> list[dict]:
  """Seconds per epoch of the paper config, and the input pipeline alone.

  The epoch runs ``steps`` real steps (batch gather from a Multi-MNIST-sized array,
  device transfer, compiled step) and scales to ``num_train // batch_size`` steps.
  """
  target, hnet, variables = phn_model()
  optimizer = optax.adam(1e-4)
  train_x = np.random.default_rng(0).uniform(0, 1, (num_train, 36, 36, 1)).astype(np.float32)
  train_y = np.random.default_rng(1).integers(0, 10, (num_train, 2)).astype(np.int32)
  step = make_pareto_step(hnet, target, optimizer, make_solver(solver), num_objectives=2)
  state = {"params": variables, "opt_state": optimizer.init(variables)}

  def batch(i):
    sel = pipeline.batch_indices(num_train, batch_size, 0, i)
    return jax.device_put((train_x[sel], train_y[sel]))

  jax.block_until_ready(batch(0))
  start = time.perf_counter()
  for i in range(steps * 5):
    jax.block_until_ready(batch(i))
  pipeline_s = (time.perf_counter() - start) / (steps * 5)

  x, y = batch(0)
  state, _ = step(state, (x, y), jax.random.key(0))
  jax.block_until_ready(state)
  start = time.perf_counter()
  for i in range(1, steps + 1):
    x, y = batch(i)
    state, metrics = step(state, (x, y), jax.random.key(i))
  jax.block_until_ready(metrics)
  per_step = (time.perf_counter() - start) / steps
  steps_per_epoch = num_train // batch_size
  return [
      {"case": "pipeline", "batch": batch_size, "batches_per_s": 1 / pipeline_s,
       "median_s": pipeline_s},
      {"case": "train_loop_step", "solver": solver, "batch": batch_size,
       "batches_per_s": 1 / per_step, "median_s": per_step},
      {"case": "phn_epoch", "solver": solver, "steps_per_epoch": steps_per_epoch,
       "seconds_per_epoch": per_step * steps_per_epoch},
  ]


def bench_front_evaluation(num_images: int = 20_000, num_rays: int = 25, batch_size: int = 500,
                           ray_chunk: int | str | None = "auto") -> list[dict]:
  """Evaluating 25 rays on the 20,000 test canvases (all rays batched)."""
  target, hnet, variables = phn_model()
  images, labels = multi_mnist_batch(num_images, seed=3)
  evaluator = evaluate_lib.make_front_evaluator(hnet, target, batch_size, ray_chunk)
  rays = rays_lib.evaluation_rays(num_rays)
  timing = time_call(lambda: evaluator(variables, rays, (images, labels))[0], 1)
  return [{"case": "front_eval", "num_rays": num_rays, "num_images": num_images, **timing}]


def compiled_bytes(compiled) -> int | None:
  """XLA's estimate of a compiled program's peak memory (arguments + outputs + temps)."""
  try:
    stats = compiled.memory_analysis()
    return int(stats.argument_size_in_bytes + stats.output_size_in_bytes
               + stats.temp_size_in_bytes)
  except Exception:  # pylint: disable=broad-except
    return None


def bench_sparse_backends(sizes=(10_000, 100_000, 1_000_000, 10_000_000), backends=None,
                          num_conditions=(1, 8), latent_dim: int = 512, repeats: int = 3,
                          dense_limit_bytes: float = 2e9) -> list[dict]:
  """Forward+backward of a sparse hypernetwork generating ``P`` weights, per backend.

  The loss is the mean square of the generated weights, differentiated w.r.t. the
  hypernetwork (``jax.vmap`` over ``num_conditions`` task ids). The ``dense`` backend
  materialises each layer's ``[out, in]`` matrix and is skipped (marked) when the largest
  one exceeds ``dense_limit_bytes``.
  """
  from hyperjax import sparse  # pylint: disable=g-import-not-at-top
  from hyperjax.hypernets import SparseHypernet  # pylint: disable=g-import-not-at-top
  from hyperjax.spec import spec_from_shapes  # pylint: disable=g-import-not-at-top

  rows = []
  for size in sizes:
    spec = spec_from_shapes({"w": jax.ShapeDtypeStruct((size,), jnp.float32)})
    for backend in backends or sparse.BACKENDS:
      hnet = SparseHypernet.for_tasks(spec, num_tasks=8, latent_dim=latent_dim, backend=backend)
      widths = hnet.widths()
      largest = max(a * b for a, b in zip(widths[:-1], widths[1:])) * 4
      if backend == "dense" and largest > dense_limit_bytes:
        rows.append({"case": "sparse_hypernet", "P": size, "backend": backend,
                     "skipped": f"dense [out, in] matrix of {largest / 1e9:.0f} GB"})
        continue
      variables = hnet.init(jax.random.key(0), jnp.int32(0))
      num_params = sum(x.size for x in jax.tree.leaves(variables))
      for n in num_conditions:
        def loss(v, tasks):
          weights = jax.vmap(hnet.apply, in_axes=(None, 0))(v, tasks)
          return jnp.mean(jnp.square(weights["w"]))
        grad = jax.jit(jax.value_and_grad(loss))
        tasks = jnp.arange(n, dtype=jnp.int32)
        compiled = grad.lower(variables, tasks).compile()
        timing = time_call(lambda: compiled(variables, tasks), repeats)
        rows.append({"case": "sparse_hypernet", "P": size, "backend": backend,
                     "conditions": n, "hnet_params": num_params, **timing,
                     "compiled_bytes": compiled_bytes(compiled)})
        print(f"  P={size:,} {backend} x{n}: {timing['median_s']:.4g} s", flush=True)
  return rows


def bench_sparse_large_target(target_name: str = "phn_resnet18", batch_size: int = 32,
                              repeats: int = 3) -> list[dict]:
  """A real target of 10M+ weights generated by a sparse hypernetwork on this machine.

  PHN's ResNet-18 (11,443,156 parameters): a 512-dim task embedding -> sparse layers
  widening x2 -> all its weights, then the target's forward pass on a batch, and the
  hypernetwork's gradient through both. The hypernetwork never holds a dense
  ``P x hidden`` matrix: its parameters are ``3 x`` the sum of its layer widths.
  """
  from hyperjax.hypernets import SparseHypernet  # pylint: disable=g-import-not-at-top

  target = make_target(target_name)
  hnet = SparseHypernet.for_tasks(target.spec, num_tasks=2)
  variables = hnet.init(jax.random.key(0), jnp.int32(0))
  num_params = sum(x.size for x in jax.tree.leaves(variables))
  x = jnp.asarray(multi_mnist_batch(batch_size)[0])
  target.spec.check(hnet.apply(variables, jnp.int32(0)))

  def loss(v, task):
    logits = target.apply(hnet.apply(v, task), x)
    return sum(jnp.mean(jnp.square(l)) for l in jax.tree.leaves(logits))

  rows = []
  for name, fn in (("generate", jax.jit(hnet.apply)),
                   ("generate+forward+backward", jax.jit(jax.value_and_grad(loss)))):
    compiled = fn.lower(variables, jnp.int32(0)).compile()
    timing = time_call(lambda: compiled(variables, jnp.int32(0)), repeats)
    rows.append({"case": f"sparse_{target_name}_{name}", "P": target.num_params,
                 "hnet_params": num_params, "batch": batch_size if "forward" in name else None,
                 **timing, "compiled_bytes": compiled_bytes(compiled)})
    print(f"  {target_name} ({target.num_params:,} weights) {name}: {timing['median_s']:.3g} s",
          flush=True)
  return rows


def format_table(rows: list[dict]) -> str:
  """A plain-text table of benchmark rows."""
  keys = []
  for row in rows:
    keys += [k for k in row if k not in keys]
  def fmt(v):
    if isinstance(v, float):
      return f"{v:.4g}"
    return str(v)
  widths = {k: max(len(k), *(len(fmt(r.get(k, ""))) for r in rows)) for k in keys}
  lines = ["  ".join(k.ljust(widths[k]) for k in keys)]
  lines += ["  ".join(fmt(r.get(k, "")).ljust(widths[k]) for k in keys) for r in rows]
  return "\n".join(lines)
