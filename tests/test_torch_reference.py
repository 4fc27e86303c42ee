"""The PyTorch reference PHN: the same function as hyperjax's, and its benchmark harness.

PyTorch is optional (the ``bench`` extra): the tests that run it are skipped without it;
the error a user gets without it is tested always.
"""

import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from hyperjax import benchmarks
from hyperjax.pareto.objectives import evaluate_objective, per_head_cross_entropy


def random_split(n, seed):
  rng = np.random.default_rng(seed)
  return (rng.uniform(size=(n, 36, 36, 1)).astype(np.float32),
          rng.integers(0, 10, (n, 2)).astype(np.int32))


def test_missing_pytorch_is_one_clear_error():
  """Without PyTorch: the library says how to install it; the launcher exits with that line."""
  code = ("import sys; sys.modules['torch'] = None\n"
          "from hyperjax import torch_reference\n"
          "try:\n  torch_reference.import_torch()\nexcept ImportError as e:\n  print(e)\n")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
  assert "pip install -e '.[bench]'" in out.stdout
  code = ("import sys; sys.modules['torch'] = None; sys.argv = ['benchmark', "
          "'--suite=torch_reference', '--data_source=embedded']\n"
          "from launch import benchmark\nfrom absl import app\napp.run(benchmark.main)\n")
  proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
  assert proc.returncode != 0 and "Traceback" not in proc.stderr
  assert "needs PyTorch" in proc.stderr


torch = pytest.importorskip("torch")
from hyperjax import torch_reference  # noqa: E402  pylint: disable=g-import-not-at-top


@pytest.fixture(scope="module")
def twins():
  target, hnet, variables = benchmarks.phn_model(
      hypernet_block={"family": "mlp", "kwargs": {"hidden": (100, 100, 100)}, "conditioner": {},
                      "init": "torch_default"})
  return target, hnet, variables, torch_reference.TorchPHN.like(target, hnet, variables)


def test_same_parameters_give_the_same_losses_and_gradients(twins):
  """Exact counts (3,243,410 = PHN's), and at the same parameters both frameworks compute the
  same per-task losses and the same gradient of the LS loss for every hypernetwork tensor."""
  target, hnet, variables, model = twins
  assert model.num_params() == 3_243_410
  x, y = random_split(32, 0)
  ray = np.asarray([0.25, 0.75], np.float32)

  def loss(v):
    losses, _ = evaluate_objective(per_head_cross_entropy(),
                                   target.apply(hnet.apply(v, jnp.asarray(ray)), x), (x, y))
    return jnp.sum(ray * losses), losses

  (_, jax_losses), grads = jax.value_and_grad(loss, has_aux=True)(variables)
  torch_ray = torch.from_numpy(ray)
  losses = model.losses(torch_ray, *model.to_tensors(x, y))
  torch.sum(torch_ray * losses).backward()
  np.testing.assert_allclose(losses.detach().numpy(), jax_losses, rtol=1e-5)
  heads = list(model.hnet["heads"])
  for i, head in enumerate(heads):
    np.testing.assert_allclose(head.weight.grad.numpy().T,
                               grads["params"][f"heads_{i}"]["kernel"], rtol=2e-3, atol=1e-7)
  first = model.hnet["trunk"][0]
  np.testing.assert_allclose(first.weight.grad.numpy().T,
                             grads["params"]["trunk"]["dense_0"]["kernel"], rtol=2e-3, atol=1e-6)


def test_adam_steps_follow_optax(twins):
  """Three PyTorch Adam steps on given rays == three optax.adam steps (same parameters after)."""
  target, hnet, variables, _ = twins
  model = torch_reference.TorchPHN.like(target, hnet, variables)
  trainer = torch_reference.TorchPHNTrainer(model, learning_rate=1e-3)
  rays = [np.asarray(r, np.float32) for r in ([0.3, 0.7], [0.9, 0.1], [0.5, 0.5])]
  optimizer = optax.adam(1e-3)
  params, opt_state = variables, optimizer.init(variables)
  x, y = random_split(16, 1)
  for ray in rays:
    out = trainer.step(*model.to_tensors(x, y), ray=ray)
    assert set(out) == {"forward_s", "backward_s", "optimizer_s", "step_s", "loss"}

    def loss(v, ray=ray):
      losses, _ = evaluate_objective(per_head_cross_entropy(),
                                     target.apply(hnet.apply(v, jnp.asarray(ray)), x), (x, y))
      return jnp.sum(jnp.asarray(ray) * losses)

    grads = jax.grad(loss)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
  # Adam divides by sqrt(v): where a gradient is ~0, float noise in it moves the update by up
  # to lr per step, so a few entries differ; nearly all agree to float precision.
  for torch_value, jax_value in (
      (model.hnet["heads"][5].weight.detach().numpy().T, params["params"]["heads_5"]["kernel"]),
      (model.hnet["trunk"][2].bias.detach().numpy(), params["params"]["trunk"]["dense_1"]["bias"])):
    diff = np.abs(torch_value - np.asarray(jax_value))
    assert diff.max() < 3 * 1e-3 * 0.1 and np.mean(diff > 2e-6) < 1e-3


def test_front_evaluation_matches_hyperjax(twins):
  """PyTorch's front (weights once per ray, batches with a smaller last one) == hyperjax's."""
  from hyperjax.pareto import evaluate as evaluate_lib  # pylint: disable=g-import-not-at-top
  from hyperjax.pareto import rays as rays_lib  # pylint: disable=g-import-not-at-top
  target, hnet, variables, model = twins
  x, y = random_split(70, 2)
  rays = rays_lib.evaluation_rays(3)
  losses, accs = torch_reference.TorchPHNTrainer(model).evaluate(rays, x, y, batch_size=32)
  jax_losses, scores = evaluate_lib.make_front_evaluator(hnet, target, 32)(variables, rays, (x, y))
  np.testing.assert_allclose(losses, jax_losses, rtol=1e-5)
  np.testing.assert_allclose(accs, scores["accuracy"], atol=1e-6)


def test_side_by_side_rows():
  """One row per quantity with both times and their ratio; the check row shows the two
  frameworks agree at the shared initial parameters."""
  rows = torch_reference.side_by_side(random_split(64, 3), random_split(30, 4), batch_size=8,
                                      rounds=2, steps_per_round=2, eval_rounds=1, num_eval_rays=2,
                                      eval_batch=16)
  check, *timed = rows
  assert check["quantity"] == "check" and check["max_loss_difference"] < 1e-4
  assert check["torch_params"] == check["hyperjax_params"] == 3_243_410
  assert [r["quantity"] for r in timed] == list(torch_reference.QUANTITIES)
  for r in timed:
    assert r["torch_s"] > 0 and r["hyperjax_s"] > 0
    assert r["ratio"] == pytest.approx(r["hyperjax_s"] / r["torch_s"])
  assert timed[-1]["examples"] == 30 and timed[-1]["rays"] == 2


def test_time_to_hv_trains_the_pytorch_setting():
  from hyperjax import time_to_hv  # pylint: disable=g-import-not-at-top
  data = {"train": random_split(48, 5), "test": random_split(20, 6)}
  rows = time_to_hv.time_to_hv(data, {"pt": time_to_hv.SETTINGS["pytorch_ls_1ray"]}, 2,
                               batch_size=16, num_eval_rays=3, reference_point=(5.0, 5.0))
  assert [r["epoch"] for r in rows] == [1, 2] and 0 < rows[0]["train_s"] < rows[1]["train_s"]
  assert all(0 < r["test_hypervolume"] <= 25.0 for r in rows)
  with pytest.raises(ValueError, match="one ray"):
    time_to_hv.time_to_hv(data, {"pt": {"framework": "torch", "num_rays": 4}}, 1, batch_size=16)
