"""A PyTorch implementation of PHN's Multi-MNIST model, to measure hyperjax side by side.

The same network as :func:`hyperjax.benchmarks.phn_model` -- the ray MLP 2-100-100-100
with one linear head per LeNet tensor (3,243,410 parameters) generating the PHN LeNet
(conv 9x9/10, pool, conv 5x5/20, pool, dense 50, two 10-way heads) -- written with
``torch.nn.functional`` the way the PHN reference code is (``F.conv2d`` / ``F.linear``
on generated tensors, ``torch.optim.Adam``, one ray per step from Dirichlet(0.2)). It can
load hyperjax's initial parameters (:meth:`TorchPHN.load_flax`), so both frameworks start
from the same point and compute the same function: ``launch/benchmark.py
--suite=torch_reference`` times step, forward, backward, optimizer and the 25-ray front
evaluation of both in one process, taking turns; ``--suite=time_to_hv`` trains it beside
hyperjax's settings.

PyTorch is an optional dependency (``pip install -e .[bench]``), never needed by the
library or its tests.

Reference: Navon, Shamsian, Chechik, Fetaya. "Learning the Pareto Front with
Hypernetworks", ICLR 2021 (architecture, Adam 1e-4, Dirichlet(0.2), 25 test rays).
"""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np


def import_torch():
  """``torch``, or a clear error saying how to install it."""
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError("The PyTorch reference needs PyTorch: pip install -e '.[bench]' "
                      "(or pip install torch).") from e
  return torch


class TorchPHN:
  """PHN's hypernetwork and functional LeNet target in PyTorch (float32, CPU or CUDA).

  Attributes:
    hnet: ``torch.nn.Module``: ray -> trunk -> one ``Linear`` head per target tensor.
    leaves: ``[(path, shape)]`` of the target tensors, in hyperjax's spec order and
      Flax layouts (``HWIO`` kernels, ``[in, out]`` dense kernels).
  """

  def __init__(self, leaves: Sequence[tuple[tuple[str, ...], tuple[int, ...]]],
               hidden: Sequence[int] = (100, 100, 100), num_objectives: int = 2,
               device: str = "cpu", seed: int = 0):
    torch = import_torch()
    self.torch = torch
    self.device = torch.device(device)
    self.leaves = [(tuple(p), tuple(s)) for p, s in leaves]
    torch.manual_seed(seed)  # PyTorch's default Linear init, as the reference code uses
    layers: list[Any] = []
    width = num_objectives
    for i, h in enumerate(hidden):
      layers.append(torch.nn.Linear(width, h))
      if i < len(hidden) - 1:
        layers.append(torch.nn.ReLU())
      width = h
    trunk = torch.nn.Sequential(*layers)
    heads = torch.nn.ModuleList([torch.nn.Linear(width, math.prod(s)) for _, s in self.leaves])
    self.hnet = torch.nn.ModuleDict({"trunk": trunk, "heads": heads}).to(self.device)
    self.num_tasks = sum(1 for p, _ in self.leaves if p[0].startswith("head_")) // 2

  @classmethod
  def like(cls, target, hnet, variables=None, device: str = "cpu", seed: int = 0) -> "TorchPHN":
    """The PyTorch twin of a hyperjax PHN (``MLPHypernet`` over a ``MultiTaskLeNet``); with
    ``variables``, starting from the same parameters."""
    model = cls([(leaf.path, leaf.shape) for leaf in target.spec.leaves], tuple(hnet.hidden),
                device=device, seed=seed)
    if variables is not None:
      model.load_flax(variables)
    return model

  def load_flax(self, variables: Any) -> None:
    """Copies hyperjax's ``MLPHypernet`` parameters (``[in, out]`` kernels -> ``[out, in]``)."""
    torch = self.torch
    params = variables["params"]
    linears = [m for m in self.hnet["trunk"] if isinstance(m, torch.nn.Linear)]
    pairs = [(linears[i], params["trunk"][f"dense_{i}"]) for i in range(len(linears))]
    pairs += [(head, params[f"heads_{i}"]) for i, head in enumerate(self.hnet["heads"])]
    with torch.no_grad():
      for module, p in pairs:
        kernel = np.asarray(p["kernel"], np.float32)
        if module.weight.shape != kernel.T.shape:
          raise ValueError(f"Parameter shapes differ: {tuple(module.weight.shape)} vs "
                           f"{kernel.T.shape}.")
        module.weight.copy_(torch.from_numpy(kernel.T.copy()))
        module.bias.copy_(torch.from_numpy(np.array(p["bias"], np.float32)))

  def num_params(self) -> int:
    return sum(p.numel() for p in self.hnet.parameters())

  def generate(self, ray) -> dict:
    """Target tensors ``{path: tensor}`` in Flax layouts for one ray ``[m]``."""
    c = self.hnet["trunk"](ray)
    return {path: head(c).reshape(shape)
            for (path, shape), head in zip(self.leaves, self.hnet["heads"])}

  def target(self, weights: dict, images):
    """LeNet logits per task for ``images`` ``[batch, 1, 36, 36]`` (NCHW)."""
    f = self.torch.nn.functional
    conv = lambda x, name: f.conv2d(x, weights[(name, "kernel")].permute(3, 2, 0, 1),
                                    weights[(name, "bias")])
    x = f.max_pool2d(f.relu(conv(images, "Conv_0")), 2)
    x = f.max_pool2d(f.relu(conv(x, "Conv_1")), 2)
    x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # Flax's (h, w, c) flattening
    x = x @ weights[("Dense_0", "kernel")] + weights[("Dense_0", "bias")]
    return [x @ weights[(f"head_{t}", "kernel")] + weights[(f"head_{t}", "bias")]
            for t in range(self.num_tasks)]

  def losses(self, ray, images, labels):
    """Per-task mean cross-entropies ``[m]`` of the ray's model on a batch."""
    logits = self.target(self.generate(ray), images)
    f = self.torch.nn.functional
    return self.torch.stack([f.cross_entropy(l, labels[:, t]) for t, l in enumerate(logits)])

  def to_tensors(self, images: np.ndarray, labels: np.ndarray):
    """NHWC float images and ``[batch, m]`` int labels -> NCHW / int64 tensors."""
    torch = self.torch
    x = torch.from_numpy(np.ascontiguousarray(np.transpose(images, (0, 3, 1, 2))))
    return x.to(self.device), torch.from_numpy(labels.astype(np.int64)).to(self.device)

  def sync(self) -> None:
    if self.device.type == "cuda":
      self.torch.cuda.synchronize()


class TorchPHNTrainer:
  """PHN-LS training with one Dirichlet ray per step, as the reference code trains.

  ``step(images, labels)`` returns the timings of its phases; ``evaluate`` the test front.
  """

  def __init__(self, model: TorchPHN, learning_rate: float = 1e-4, ray_alpha: float = 0.2,
               seed: int = 0):
    self.model = model
    self.optimizer = model.torch.optim.Adam(model.hnet.parameters(), lr=learning_rate)
    self.rng = np.random.default_rng(seed)
    self.ray_alpha = ray_alpha

  def step(self, images, labels, ray: np.ndarray | None = None) -> dict:
    """One training step on tensors (on ``ray``, default: a Dirichlet draw);
    ``{'forward_s', 'backward_s', 'optimizer_s', 'step_s', 'loss'}``."""
    model, torch = self.model, self.model.torch
    if ray is None:
      ray = self.rng.dirichlet([self.ray_alpha] * 2)
    ray = torch.from_numpy(np.asarray(ray, np.float32)).to(model.device)
    start = time.perf_counter()
    loss = torch.sum(ray * model.losses(ray, images, labels))
    model.sync()
    forward = time.perf_counter()
    self.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    model.sync()
    backward = time.perf_counter()
    self.optimizer.step()
    model.sync()
    end = time.perf_counter()
    return {"forward_s": forward - start, "backward_s": backward - forward,
            "optimizer_s": end - backward, "step_s": end - start, "loss": float(loss.detach())}

  def evaluate(self, rays: np.ndarray, images: np.ndarray, labels: np.ndarray,
               batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Per-ray mean losses and accuracies ``[E, m]`` over the split (weights generated once
    per ray; every batch through every ray's model)."""
    model, torch = self.model, self.model.torch
    f = torch.nn.functional
    losses = np.zeros((len(rays), model.num_tasks))
    correct = np.zeros((len(rays), model.num_tasks))
    with torch.inference_mode():
      batches = [model.to_tensors(images[i:i + batch_size], labels[i:i + batch_size])
                 for i in range(0, len(images), batch_size)]
      for r, ray in enumerate(rays):
        weights = model.generate(torch.as_tensor(np.asarray(ray, np.float32), device=model.device))
        for x, y in batches:
          for t, logits in enumerate(model.target(weights, x)):
            losses[r, t] += float(f.cross_entropy(logits, y[:, t], reduction="sum"))
            correct[r, t] += float((logits.argmax(1) == y[:, t]).sum())
    return losses / len(images), correct / len(images)


QUANTITIES = ("step", "forward", "backward", "optimizer", "front_eval")


def side_by_side(train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], *,
                 batch_size: int = 256, rounds: int = 5, steps_per_round: int = 10,
                 eval_rounds: int = 2, num_eval_rays: int = 25, eval_batch: int = 500,
                 conv_impl: str = "auto", device: str | None = None, seed: int = 0
                 ) -> list[dict]:
  """PyTorch and hyperjax, same model, same initial parameters, same batches, taking turns.

  Per round, each framework runs ``steps_per_round`` training steps (PHN-LS, one ray);
  hyperjax's phases are its compiled forward, forward+backward (backward = the
  difference) and optimizer update, each timed alone, beside its whole compiled step;
  PyTorch's are timed inside its step. Then both evaluate the ``num_eval_rays`` test
  front ``eval_rounds`` times. Rows: ``{quantity, torch_s, hyperjax_s, ratio}`` with
  medians over rounds (``ratio`` = hyperjax / PyTorch; below 1: hyperjax is faster), and
  a ``check`` row with the largest difference of the two frameworks' losses at the same
  parameters.
  """
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top

  from hyperjax import benchmarks  # pylint: disable=g-import-not-at-top
  from hyperjax.data import pipeline  # pylint: disable=g-import-not-at-top
  from hyperjax.pareto import evaluate as evaluate_lib  # pylint: disable=g-import-not-at-top
  from hyperjax.pareto import rays as rays_lib  # pylint: disable=g-import-not-at-top
  from hyperjax.pareto.objectives import evaluate_objective, per_head_cross_entropy  # pylint: disable=g-import-not-at-top
  from hyperjax.pareto.solvers import make_solver  # pylint: disable=g-import-not-at-top
  from hyperjax.pareto.step import make_pareto_step  # pylint: disable=g-import-not-at-top

  torch = import_torch()
  device = device or ("cuda" if torch.cuda.is_available() else "cpu")
  target, hnet, variables = benchmarks.phn_model(
      {"name": "phn_lenet", "kwargs": {"conv_impl": conv_impl}}, seed=seed)
  model = TorchPHN.like(target, hnet, variables, device=device, seed=seed)
  trainer = TorchPHNTrainer(model, seed=seed)
  optimizer = optax.adam(1e-4)
  objective = per_head_cross_entropy()

  def loss_fn(params, ray, x, y):
    losses, _ = evaluate_objective(objective, target.apply(hnet.apply(params, ray), x), (x, y))
    return jnp.sum(ray * losses), losses

  forward = jax.jit(loss_fn)
  forward_backward = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))

  @jax.jit
  def update(params, opt_state, grads):
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  step = make_pareto_step(hnet, target, optimizer, make_solver("ls"), num_objectives=2)
  state = {"params": jax.tree.map(jnp.copy, variables), "opt_state": optimizer.init(variables)}
  evaluator = evaluate_lib.make_front_evaluator(hnet, target, eval_batch)
  eval_rays = rays_lib.evaluation_rays(num_eval_rays)

  # Same parameters, same batch: the two frameworks' losses agree.
  x0, y0 = train[0][:batch_size], train[1][:batch_size]
  ray0 = np.asarray([0.3, 0.7], np.float32)
  jax_losses = np.asarray(forward(variables, jnp.asarray(ray0), x0, y0)[1])
  with torch.no_grad():
    torch_losses = model.losses(torch.from_numpy(ray0).to(model.device),
                                *model.to_tensors(x0, y0)).cpu().numpy()
  rows: list[dict] = [{"case": "torch_reference", "quantity": "check",
                       "max_loss_difference": float(np.max(np.abs(jax_losses - torch_losses))),
                       "torch_params": model.num_params(),
                       "hyperjax_params": sum(int(np.size(a)) for a in jax.tree.leaves(variables))}]
  times: dict[str, dict[str, list[float]]] = {q: {"torch": [], "hyperjax": []} for q in QUANTITIES}
  # Compile everything once, outside the clock.
  ray0_j = jnp.asarray(ray0)
  jax.block_until_ready(forward(state["params"], ray0_j, x0, y0))
  _, g0 = forward_backward(state["params"], ray0_j, x0, y0)
  jax.block_until_ready(update(state["params"], state["opt_state"], g0))
  state, _ = step(state, (x0, y0), jax.random.key(seed))
  jax.block_until_ready(state)
  for r in range(rounds):
    batches = [pipeline.batch_indices(len(train[0]), batch_size, seed, r * steps_per_round + i)
               for i in range(steps_per_round)]
    parts: dict[str, list[float]] = {"forward_s": [], "backward_s": [], "optimizer_s": [],
                                     "step_s": []}
    for sel in batches:
      x, y = model.to_tensors(train[0][sel], train[1][sel])
      for k, v in trainer.step(x, y).items():
        if k in parts:
          parts[k].append(v)
    for q in ("step", "forward", "backward", "optimizer"):
      times[q]["torch"].append(float(np.median(parts[f"{q}_s"])))
    jparts: dict[str, list[float]] = {"step": [], "forward": [], "forward_backward": [],
                                      "optimizer": []}
    for i, sel in enumerate(batches):
      x, y = jnp.asarray(train[0][sel]), jnp.asarray(train[1][sel])
      ray = jnp.asarray(trainer.rng.dirichlet([0.2, 0.2]).astype(np.float32))
      for name, fn in (("forward", lambda: forward(state["params"], ray, x, y)),
                       ("forward_backward", lambda: forward_backward(state["params"], ray, x, y))):
        start = time.perf_counter()
        out = jax.block_until_ready(fn())
        jparts[name].append(time.perf_counter() - start)
      grads = out[1]
      start = time.perf_counter()
      jax.block_until_ready(update(state["params"], state["opt_state"], grads))
      jparts["optimizer"].append(time.perf_counter() - start)
      start = time.perf_counter()
      state, _ = step(state, (x, y), jax.random.key(r * steps_per_round + i))
      jax.block_until_ready(state)
      jparts["step"].append(time.perf_counter() - start)
    med = {k: float(np.median(v)) for k, v in jparts.items()}
    times["step"]["hyperjax"].append(med["step"])
    times["forward"]["hyperjax"].append(med["forward"])
    times["backward"]["hyperjax"].append(med["forward_backward"] - med["forward"])
    times["optimizer"]["hyperjax"].append(med["optimizer"])
    print(f"  round {r + 1}/{rounds}: step PyTorch {times['step']['torch'][-1] * 1e3:.1f} ms, "
          f"hyperjax {med['step'] * 1e3:.1f} ms", flush=True)
  jax.block_until_ready(evaluator(state["params"], eval_rays, (test[0][:eval_batch],
                                                              test[1][:eval_batch])))
  for r in range(eval_rounds):
    start = time.perf_counter()
    trainer.evaluate(eval_rays, test[0], test[1], eval_batch)
    times["front_eval"]["torch"].append(time.perf_counter() - start)
    start = time.perf_counter()
    jax.block_until_ready(evaluator(state["params"], eval_rays, test))
    times["front_eval"]["hyperjax"].append(time.perf_counter() - start)
    print(f"  evaluation {r + 1}/{eval_rounds}: PyTorch {times['front_eval']['torch'][-1]:.1f} s, "
          f"hyperjax {times['front_eval']['hyperjax'][-1]:.1f} s", flush=True)
  for q in QUANTITIES:
    t, j = float(np.median(times[q]["torch"])), float(np.median(times[q]["hyperjax"]))
    rows.append({"case": "torch_reference", "quantity": q, "torch_s": t, "hyperjax_s": j,
                 "ratio": j / t, "torch_min_s": float(np.min(times[q]["torch"])),
                 "hyperjax_min_s": float(np.min(times[q]["hyperjax"])),
                 "batch": batch_size if q != "front_eval" else eval_batch,
                 "rays": 1 if q != "front_eval" else num_eval_rays,
                 "examples": batch_size if q != "front_eval" else len(test[0]),
                 "torch_device": str(model.device), "torch": torch.__version__,
                 "torch_threads": torch.get_num_threads()})
  return rows
