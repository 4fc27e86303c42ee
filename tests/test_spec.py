"""Weight specs and targets: structure, fans, layer order, flatten/unflatten, NNX, state."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperjax import spec as spec_lib
from hyperjax import target as target_lib
from hyperjax.target import Target, calibrate_state, calibrate_states
from hyperjax.targets import MLP, make_target


def test_lenet_spec_paths_fans_and_layers():
  spec = make_target("phn_lenet").spec
  assert [l.name for l in spec.leaves] == [
      "Conv_0/bias", "Conv_0/kernel", "Conv_1/bias", "Conv_1/kernel", "Dense_0/bias",
      "Dense_0/kernel", "head_0/bias", "head_0/kernel", "head_1/bias", "head_1/kernel"]
  conv1 = spec["Conv_0/kernel"]
  assert (conv1.shape, conv1.kind, conv1.fan_in, conv1.fan_out) == ((9, 9, 1, 10), "kernel", 81, 810)
  assert spec["Conv_0/bias"].fan_in == 81 and spec["Conv_0/bias"].kind == "bias"
  assert spec["Dense_0/kernel"].fan_in == 500 and spec["Dense_0/kernel"].fan_out == 50
  assert [spec[f"{m}/kernel"].layer for m in ("Conv_0", "Conv_1", "Dense_0", "head_0", "head_1")] \
      == [0, 1, 2, 3, 4]
  offsets = [l.offset for l in spec.leaves]
  assert offsets == list(np.cumsum([0] + [l.size for l in spec.leaves[:-1]]))
  assert spec.size == 31_910 and spec.count("kernel") == 810 + 5000 + 25000 + 1000


def test_layer_index_follows_call_order_not_names():
  class Reversed(nn.Module):
    @nn.compact
    def __call__(self, x):
      x = nn.Dense(4, name="zz")(x)
      return nn.Dense(3, name="aa")(x)

  spec = spec_lib.weight_spec(Reversed(), jnp.zeros((1, 5)))
  assert spec["zz/kernel"].layer == 0 and spec["aa/kernel"].layer == 1
  assert spec["aa/kernel"].fan_in == 4


def test_scale_and_embedding_kinds():
  class Mixed(nn.Module):
    @nn.compact
    def __call__(self, idx):
      h = nn.Embed(7, 6)(idx)
      return nn.LayerNorm()(h)

  spec = spec_lib.weight_spec(Mixed(), jnp.zeros((2,), jnp.int32))
  assert spec["Embed_0/embedding"].kind == "embedding"
  # Fans as Flax's nn.Embed initialiser counts them: its variance is 1 / features.
  assert (spec["Embed_0/embedding"].fan_in, spec["Embed_0/embedding"].fan_out) == (6, 7)
  assert spec["LayerNorm_0/scale"].kind == "scale"
  assert spec.base_values()[[l.name for l in spec.leaves].index("LayerNorm_0/scale")] == 1.0


@settings(max_examples=8, deadline=None)
@given(widths=st.lists(st.integers(1, 9), min_size=1, max_size=3),
       batch=st.lists(st.integers(1, 3), max_size=2), seed=st.integers(0, 2**16))
def test_flatten_unflatten_round_trip(widths, batch, seed):
  target = Target.from_linen(MLP(hidden=tuple(widths), num_outputs=3), jnp.zeros((1, 4)))
  spec = target.spec
  flat = jax.random.normal(jax.random.key(seed), (*batch, spec.size))
  tree = spec.unflatten(flat)
  spec.check(tree, batch_shape=tuple(batch))
  chex.assert_trees_all_equal(spec.flatten(tree), flat)
  weights = target.init_weights(jax.random.key(seed))
  chex.assert_trees_all_equal(spec.unflatten(spec.flatten(weights)), weights)


def test_unflatten_rejects_wrong_length():
  spec = make_target("phn_lenet").spec
  with pytest.raises(ValueError, match="31910 trainable"):
    spec.unflatten(jnp.zeros(31_911))


def test_check_rejects_wrong_shape():
  target = make_target("phn_lenet")
  weights = target.init_weights(jax.random.key(0))
  weights["Conv_0"]["kernel"] = jnp.zeros((9, 9, 1, 11))
  with pytest.raises(ValueError, match="Conv_0/kernel"):
    target.spec.check(weights)


def test_target_apply_matches_module_apply():
  module = MLP(hidden=(8,), num_outputs=3)
  target = Target.from_linen(module, jnp.zeros((1, 5)))
  x = jax.random.normal(jax.random.key(1), (4, 5))
  weights = target.init_weights(jax.random.key(2))
  chex.assert_trees_all_close(target.apply(weights, x), module.apply({"params": weights}, x))


class NnxNet(nnx.Module):

  def __init__(self, rngs):
    self.dense = nnx.Linear(5, 8, rngs=rngs)
    self.norm = nnx.BatchNorm(8, rngs=rngs)
    self.out = nnx.Linear(8, 3, rngs=rngs)

  def __call__(self, x):
    return self.out(nnx.relu(self.norm(self.dense(x))))


def test_nnx_target_spec_and_apply():
  model = NnxNet(nnx.Rngs(0))
  target = Target.from_nnx(model)
  assert target.spec.size == 5 * 8 + 8 + 8 + 8 + 8 * 3 + 3
  assert target.spec["dense/kernel"].fan_in == 5
  assert target.spec["norm/scale"].kind == "scale"
  x = jax.random.normal(jax.random.key(1), (6, 5))
  model.eval()
  expected = model(x)
  weights = target.init_weights(jax.random.key(0))
  chex.assert_trees_all_close(jax.jit(lambda w: target.apply(w, x, train=False))(weights),
                              expected, atol=1e-6)
  doubled = jax.tree.map(lambda w: 2 * w, weights)
  assert not np.allclose(target.apply(doubled, x, train=False), expected)


def _bn_mlp():
  class BnMlp(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
      h = nn.Dense(6)(x)
      h = nn.BatchNorm(use_running_average=not train, momentum=0.8)(h)
      return nn.Dense(2)(h)
  return Target.from_linen(BnMlp(), jnp.zeros((1, 3)), train=False)


def test_state_is_kept_out_of_generated_weights():
  target = _bn_mlp()
  assert set(target.state) == {"batch_stats"}
  assert all(l.path[-1] != "mean" and l.path[-1] != "var" for l in target.spec.leaves)
  assert target.spec.size == 3 * 6 + 6 + 6 + 6 + 6 * 2 + 2


def test_calibrate_state_matches_numpy_population_statistics():
  target = _bn_mlp()
  weights = target.init_weights(jax.random.key(0))
  batches = [jax.random.normal(jax.random.key(i), (32, 3)) + i for i in range(4)]
  state = calibrate_state(target, weights, batches)
  k, b = np.asarray(weights["Dense_0"]["kernel"]), np.asarray(weights["Dense_0"]["bias"])
  pre = [np.asarray(x) @ k + b for x in batches]
  np.testing.assert_allclose(state["batch_stats"]["BatchNorm_0"]["mean"],
                             np.mean([p.mean(0) for p in pre], 0), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(state["batch_stats"]["BatchNorm_0"]["var"],
                             np.mean([p.var(0) for p in pre], 0), rtol=1e-4, atol=1e-5)
  out = target.apply(weights, batches[0], state=state, train=False)
  assert out.shape == (32, 2)


def test_calibrate_state_refuses_stateless_target():
  target = make_target("phn_lenet")
  with pytest.raises(ValueError, match="no non-trainable state"):
    calibrate_state(target, target.init_weights(jax.random.key(0)), [jnp.zeros((1, 36, 36, 1))])


@pytest.mark.parametrize("chunk", [None, 2])
def test_calibrate_states_equals_one_set_at_a_time(chunk):
  target = _bn_mlp()
  stacked = jax.vmap(target.init_weights)(jax.random.split(jax.random.key(1), 3))
  batches = np.stack([np.asarray(jax.random.normal(jax.random.key(i), (16, 3))) * (i + 1)
                      for i in range(3)])
  states = calibrate_states(target, stacked, batches, chunk=chunk)
  for r in range(3):
    one = calibrate_state(target, jax.tree.map(lambda w: w[r], stacked), list(batches))
    chex.assert_trees_all_close(jax.tree.map(lambda s: s[r], states), one, rtol=1e-5, atol=1e-6)
  # Weights are arguments, not constants: new values reuse the compiled program.
  before = target_lib._jitted_calibrate_states(target, chunk)._cache_size()
  calibrate_states(target, jax.tree.map(lambda w: w * 2, stacked), batches, chunk=chunk)
  assert target_lib._jitted_calibrate_states(target, chunk)._cache_size() == before == 1


def test_state_first_read_inside_jit_is_concrete_and_train_mode_uses_batch_stats():
  target = _bn_mlp()  # fresh: its state is first computed inside the trace below
  weights = target.init_weights(jax.random.key(0))
  x = jax.random.normal(jax.random.key(1), (8, 3)) * 3 + 1
  out = jax.jit(lambda w, x: target.apply(w, x, train=True))(weights, x)
  assert not isinstance(target.state["batch_stats"]["BatchNorm_0"]["mean"], jax.core.Tracer)
  pre = np.asarray(x) @ np.asarray(weights["Dense_0"]["kernel"]) + np.asarray(weights["Dense_0"]["bias"])
  bn = weights["BatchNorm_0"]
  h = (pre - pre.mean(0)) / np.sqrt(pre.var(0) + 1e-5) * bn["scale"] + bn["bias"]
  expected = h @ np.asarray(weights["Dense_1"]["kernel"]) + np.asarray(weights["Dense_1"]["bias"])
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
