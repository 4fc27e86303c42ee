"""The target zoo: exact parameter counts (paper figures and hand arithmetic), shapes."""

import chex
import jax
import jax.numpy as jnp
import pytest

from hyperjax.targets import TARGET_NAMES, make_target


def conv(k, cin, cout, bias=True):
  return k * k * cin * cout + (cout if bias else 0)


def dense(n_in, n_out):
  return n_in * n_out + n_out


def test_phn_lenet_has_31910_params():
  # PHN (Navon et al. 2021): 31,910.
  assert make_target("phn_lenet").num_params == 31_910
  assert make_target("paretomtl_lenet").num_params == 31_910


def test_phn_resnet18_has_11443156_params():
  # PHN's ResNet-18 for Fashion+MNIST: 11,443,156.
  assert make_target("phn_resnet18").num_params == 11_443_156


def test_cifar_resnet32_counts():
  # He et al. 2016, option A: 0.46M; exactly 464,154 with BatchNorm scale+shift.
  with_bn = make_target("cifar_resnet", depth=32)
  assert with_bn.num_params == 464_154
  bn = 2 * (16 + 10 * 16 + 10 * 32 + 10 * 64)
  conv_bias = 16 + 10 * 16 + 10 * 32 + 10 * 64
  assert make_target("cifar_resnet", depth=32, use_batchnorm=False).num_params == \
      464_154 - bn + conv_bias
  assert not make_target("cifar_resnet", use_batchnorm=False).has_state


def test_mlp_counts():
  assert make_target("mlp").num_params == dense(784, 400) + 2 * dense(400, 400) + dense(400, 10)
  assert make_target("mlp", hidden=(7, 5), num_outputs=3, input_shape=(11,)).num_params == \
      dense(11, 7) + dense(7, 5) + dense(5, 3)


def test_mnist_two_conv_counts():
  target = make_target("mnist_two_conv")
  spec = target.spec
  # Ha et al.: the generated kernel is 7x7x16x16 = 12,544; with its bias 12,560.
  assert spec["Conv_1/kernel"].shape == (7, 7, 16, 16) and spec["Conv_1/kernel"].size == 12_544
  assert spec["Conv_1/kernel"].size + spec["Conv_1/bias"].size == 12_560
  assert target.num_params == conv(7, 1, 16) + conv(7, 16, 16) + dense(7 * 7 * 16, 10)


@pytest.mark.parametrize("blocks", [1, 2, 3])
def test_vgg_block_counts(blocks):
  spec = make_target("vgg_blocks", num_blocks=blocks).spec
  widths = [16, 32, 64][:blocks]
  convs = [conv(3, 3, 16)] + [conv(3, 16, 16)]
  for prev, w in zip(widths, widths[1:]):
    convs += [conv(3, prev, w), conv(3, w, w)]
  side = 32 // 2**blocks
  assert spec.size == sum(convs) + dense(side * side * widths[-1], 128) + dense(128, 10)
  if blocks == 3:
    # The reproduction's Block3 figure: 71,632 conv parameters beyond the stem conv.
    assert sum(l.size for l in spec.leaves if l.path[0].startswith("Conv")) - conv(3, 3, 16) \
        == 71_632


def test_wide_resnet_counts():
  # Ha et al.: WRN 40-1 0.563M, WRN 40-2 2.236M (their rounding; ours is exact).
  wrn1 = make_target("wide_resnet", depth=40, widen_factor=1).num_params
  assert wrn1 == 563_930
  wrn2 = make_target("wide_resnet", depth=40, widen_factor=2).num_params
  assert wrn2 == 2_243_546
  assert abs(wrn2 - 2_236_000) / 2_236_000 < 0.005


# name -> (number of heads, each head's output shape for a batch of 2); default (1, (2, 10)).
HEADS = {"phn_lenet": (2, (2, 10)), "paretomtl_lenet": (2, (2, 10)),
         "phn_resnet18": (2, (2, 10)), "student_cnn": (2, (2, 10)),
         "decision_vector": (1, (2, 2))}


@pytest.mark.parametrize("name", TARGET_NAMES)
def test_forward_shapes(name):
  target = make_target(name)
  weights = jax.eval_shape(target.init_weights, jax.random.key(0))
  out = jax.eval_shape(lambda w, x: target.apply(w, x), weights,
                       jax.ShapeDtypeStruct((2, *target.input_shape), jnp.float32))
  heads = out if isinstance(out, tuple) else (out,)
  count, shape = HEADS.get(name, (1, (2, 10)))
  assert len(heads) == count and all(h.shape == shape for h in heads)


def test_unknown_target_is_refused():
  with pytest.raises(ValueError, match="Unknown target 'lenet5'.*phn_lenet"):
    make_target("lenet5")


def test_conv_impls_give_the_same_lenet():
  """'patches' (one gather + matmul), 'batch_minor' (the same in [C, H, W, batch]), 'xla'
  (lax.conv) and 'auto' (batch-minor on CPU, lax.conv on accelerators): same parameters, same
  outputs and gradients, also under vmap over per-ray weights."""
  from hyperjax.targets.conv import CONV_IMPLS, resolve_impl  # pylint: disable=g-import-not-at-top
  assert resolve_impl("auto") == ("batch_minor" if jax.default_backend() == "cpu" else "xla")
  x = jax.random.uniform(jax.random.key(1), (3, 36, 36, 1))
  targets = {impl: make_target("phn_lenet", conv_impl=impl) for impl in CONV_IMPLS}
  weights = targets["xla"].init_weights(jax.random.key(0))
  loss = lambda t: jax.value_and_grad(lambda w: sum(jnp.sum(o ** 2) for o in t.apply(w, x)))
  reference = loss(targets["xla"])(weights)
  stacked = jax.tree.map(lambda a: jnp.stack([a, 0.5 * a]), weights)
  per_ray = lambda t: jax.vmap(lambda w: t.apply(w, x))(stacked)
  for impl in ("patches", "batch_minor", "auto"):
    chex.assert_trees_all_close(per_ray(targets[impl]), per_ray(targets["xla"]), rtol=1e-4,
                                atol=1e-5)
    targets[impl].spec.check(weights)
    chex.assert_trees_all_close(loss(targets[impl])(weights), reference, rtol=1e-4, atol=1e-5)
