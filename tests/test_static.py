"""Static hypernetworks (Ha et al.): Ha's formula against NumPy, tiling, exact parameter
counts from the papers, clear errors, and short real training runs."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

from configs import static_cifar10, static_mnist
from hyperjax.experiments import static
from hyperjax.hypernets.static import KernelHypernet, StaticHypernet
from hyperjax.target import Target
from tests import mock_tfds

STATIC_TRAIN = 256  # 8 steps of 32 per epoch (48 in all) on the class-coded mock CIFAR-10


@pytest.mark.parametrize("arg,expected", [
    ("hyper4_4", 4_244), ("hyper4_5", 5_108), ("hyper4_6", 5_972), ("hyper5_5", 5_189),
    ("hyper6_6", 6_166), ("hyper4_7", 6_836), ("hyper4_8", 7_700), ("hyper7_7", 7_175)])
def test_mnist_hyper_counts_from_the_reference_table(arg, expected):
  config = static_mnist.get_config(arg)
  target, model, params, _ = static.build(config, (28, 28, 1))
  counts = static.parameter_counts(target, model, config)
  assert counts["layers_hyper"] == expected and counts["layers_plain"] == 12_560
  # Everything else (first conv, the generated layer's bias, dense) stays ordinary.
  total = sum(x.size for x in jax.tree.leaves(params))
  assert total == expected + target.num_params - 7 * 7 * 16 * 16
  target.spec.check(model.apply(params))


@pytest.mark.slow
def test_cifar_counts_from_the_papers():
  def counts(arg):
    config = static_cifar10.get_config(arg)
    target, model, params, _ = static.build(config, (32, 32, 3))
    return static.parameter_counts(target, model, config), sum(
        x.size for x in jax.tree.leaves(params))

  block3, _ = counts("block3,hyper32_32")
  assert block3["layers_plain"] == 71_632 and block3["layers_hyper"] == 22_640
  block1, _ = counts("block1,hyper4_4")  # 16 (16 x 4 + 4) + 4 x 144 + 144 + one 4-dim embedding
  assert block1["layers_hyper"] == 16 * 20 + 4 * 144 + 144 + 4
  wrn, total = counts("wrn40_1,hyper64_64")
  assert len(wrn["generated_layers"]) == 36  # Ha et al.: 36 generated layers
  assert abs(total - 97_000) / 97_000 < 0.01  # HyperWRN 40-1: 0.097M
  assert wrn["target"] == 563_930  # WRN 40-1: 0.563M


def test_kernel_hypernet_is_has_formula():
  """K_i = W_out^T (W_i z + B_i) + B_out, K_i read as f x (N_out f), computed in NumPy."""
  f, n_in, n_out, nz, d = 3, 5, 4, 6, 7
  hnet = KernelHypernet(nz, d, f, n_in, n_out)
  z = jax.random.normal(jax.random.key(1), (nz,))
  params = hnet.init(jax.random.key(0), z)["params"]
  params = jax.tree.map(lambda p: p + 0.1 * jax.random.normal(jax.random.key(2), p.shape), params)
  kernel = np.asarray(hnet.apply({"params": params}, z))
  assert kernel.shape == (f, f, n_in, n_out)
  p = jax.tree.map(np.asarray, params)
  for i in range(n_in):
    a_i = p["w_in"][i].T @ np.asarray(z) + p["b_in"][i]
    k_i = (a_i @ p["w_out"] + p["b_out"]).reshape(f, n_out, f)
    for o in range(n_out):
      np.testing.assert_allclose(kernel[:, :, i, o], k_i[:, o, :], rtol=1e-5, atol=1e-5)
  assert sum(x.size for x in jax.tree.leaves(params)) == n_in * (nz * d + d) + d * f * f * n_out \
      + f * f * n_out


class TwoWide(nn.Module):
  @nn.compact
  def __call__(self, x):
    x = nn.Conv(16, (3, 3))(x)
    x = nn.Conv(32, (3, 3))(x)
    return nn.Conv(32, (3, 3))(x)


def test_tiling_from_basic_kernels():
  target = Target.from_linen(TwoWide(), jnp.zeros((1, 8, 8, 3)))
  model = StaticHypernet(target.spec, r"Conv_[12]/kernel", 4, 4, 3)
  params = model.init(jax.random.key(0))
  weights = model.apply(params)
  target.spec.check(weights)
  basics = np.asarray(model.apply(params, method="basic_kernels"))
  assert basics.shape == (2 + 4, 3, 3, 16, 16)  # 16->32: 1 x 2 tiles; 32->32: 2 x 2 tiles
  # Conv_1 (16 -> 32): tiles 0, 1 side by side along the outputs.
  np.testing.assert_allclose(weights["Conv_1"]["kernel"], np.concatenate(basics[:2], axis=-1),
                             rtol=1e-6)
  # Conv_2 (32 -> 32): tiles 2..5 as [[t2, t3], [t4, t5]] (rows: input blocks), scaled by
  # 1/sqrt(2) for the doubled fan-in.
  t = basics[2:]
  block = np.concatenate([np.concatenate([t[0], t[1]], -1), np.concatenate([t[2], t[3]], -1)], -2)
  np.testing.assert_allclose(weights["Conv_2"]["kernel"], block / np.sqrt(2), rtol=1e-6)
  # The first conv (3 input channels) is an ordinary parameter, initialised as Flax would.
  assert params["params"]["Conv_0_kernel"].shape == (3, 3, 3, 16)


@pytest.mark.parametrize("pattern,message", [
    ("Conv_9/kernel", "matches no target leaf"),
    ("Conv_0/kernel", r"Conv_0/kernel \(3, 3, 3, 16\) cannot be generated"),
    ("Conv_1/bias", "cannot be generated")])
def test_bad_generated_patterns_are_refused(pattern, message):
  target = Target.from_linen(TwoWide(), jnp.zeros((1, 8, 8, 3)))
  with pytest.raises(ValueError, match=message):
    StaticHypernet(target.spec, pattern, 4, 4, 3).init(jax.random.key(0))


@pytest.mark.parametrize("arg,message", [
    ("hyper4_4,conv", "not both"), ("block3", "Unknown config"), ("hyperx", "Unknown config")])
def test_bad_config_arguments(arg, message):
  with pytest.raises(ValueError, match=message):
    static_mnist.get_config(arg)


@pytest.mark.slow
@pytest.mark.parametrize("arg", ["hyper4_4", "conv"])
def test_mnist_training_reaches_high_accuracy(arg, tmp_path):
  config = static_mnist.get_config(arg + ",tiny")
  config.data.source = "embedded"
  config.data.num_val, config.max_train, config.batch_size = 200, 1500, 100
  results = static.train_and_evaluate(config, str(tmp_path))
  assert results["test_accuracy"] > 0.8  # chance 0.1; 30 steps on 1,500 images
  assert results["best_epoch"] in (1, 2)
  assert os.path.getsize(results["kernels_figure"]) > 1000
  assert results["model"] == ("hyper" if arg != "conv" else "plain")


@pytest.mark.slow
@pytest.mark.parametrize("arg,generated", [("block3,hyper32_32", 5), ("wrn40_1,hyper64_64", 6)])
def test_cifar_configs_learn_class_coded_mock_data(arg, generated, tmp_path):
  pytest.importorskip("tensorflow_datasets")
  config = static_cifar10.get_config(arg + ",tiny")
  config.data.source = "tfds"
  config.data.num_val, config.max_train, config.num_epochs = 40, STATIC_TRAIN, 6
  with mock_tfds.class_coded(num_examples=300):
    results = static.train_and_evaluate(config, str(tmp_path))
  # Ten classes, each a colour of its own (tests/mock_tfds.py): chance is 0.1.
  assert results["test_accuracy"] > 0.25, results["test_accuracy"]
  # Tiny WRN: depth 10, one block per stage, 2 generated convs each.
  assert len(results["num_params"]["generated_layers"]) == generated
