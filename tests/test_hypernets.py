"""Hypernetwork families: exact counts, structure = spec, vmap = loop, jit = no-jit,
one trace per shape, finite gradients, conditioning forms, hyperfan variances."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

from hyperjax.hypernets import (PHN_RESNET18_PRESETS, ChunkedHypernet, Conditioner,
                                IndependentNetworks, LinearHypernet, MLPHypernet, SparseHypernet,
                                init_hypernet, make_hypernet, target_variances)
from hyperjax.target import Target
from hyperjax.targets import MLP, make_target


def num_params(tree):
  return sum(x.size for x in jax.tree.leaves(tree))


def rays(n, seed=0, dim=2):
  return jax.random.dirichlet(jax.random.key(seed), jnp.full((dim,), 0.2), (n,))


@pytest.fixture(scope="module")
def lenet():
  return make_target("phn_lenet")


def test_phn_mlp_hypernet_has_3243410_params(lenet):
  hnet = MLPHypernet(lenet.spec, hidden=(100, 100, 100))
  shapes = jax.eval_shape(hnet.init, jax.random.key(0), jnp.ones(2))
  assert num_params(shapes) == 3_243_410


@pytest.fixture(scope="module")
def resnet18_spec():
  return make_target("phn_resnet18").spec


@pytest.mark.parametrize("preset,expected", [("11M", 11_036_684), ("5M", 5_044_684),
                                             ("2M", 2_066_892), ("1M", 1_103_564)])
def test_phn_chunked_presets_counts(preset, expected, resnet18_spec):
  spec = resnet18_spec
  chunks, num_ws = PHN_RESNET18_PRESETS[preset]
  hnet = ChunkedHypernet(spec, chunk_size=10_000, num_ws=num_ws, num_chunks=chunks)
  shapes = jax.eval_shape(hnet.init, jax.random.key(0), jnp.ones(2))
  assert num_params(shapes) == expected
  out = jax.eval_shape(hnet.apply, shapes, jnp.ones(2))
  spec.check(out)


def small_families(spec):
  return {
      "mlp": MLPHypernet(spec, hidden=(16, 16)),
      "chunked": ChunkedHypernet(spec, chunk_size=500, num_ws=3, hidden=(16, 16),
                                 chunk_embedding_dim=8),
      # Controllable Pareto MTL's generator: a projection tensor per chunk.
      "chunked_own": ChunkedHypernet(spec, chunk_size=500, num_ws=3, hidden=(16, 16),
                                     chunk_embedding_dim=8, share_projection=False),
      "sparse": SparseHypernet(spec, latent_dim=16, connectivity=4, activation="relu",
                               conditioner=Conditioner(vector_projection=16, normalize=True)),
      "linear": LinearHypernet(spec, conditioner=Conditioner(vector_projection=16,
                                                             normalize=True)),
  }


FAMILY_NAMES = ["mlp", "chunked", "chunked_own", "sparse", "linear"]


def test_per_chunk_projections_count_and_differ(lenet):
  """share_projection=False: num_chunks x num_ws x hidden x chunk_size output weights,
  and chunks no longer share them (same init, different chunk outputs than shared)."""
  shared = ChunkedHypernet(lenet.spec, chunk_size=1000, num_ws=1, hidden=(100, 100, 100))
  own = shared.clone(share_projection=False)
  p_shared = jax.eval_shape(shared.init, jax.random.key(0), jnp.ones(2))
  p_own = jax.eval_shape(own.init, jax.random.key(0), jnp.ones(2))
  chunks = -(-31_910 // 1000)
  assert p_own["params"]["chunk_ws"].shape == (chunks, 1, 100, 1000)
  assert num_params(p_own) - num_params(p_shared) == (chunks - 1) * 100 * 1000
  params = own.init(jax.random.key(0), jnp.ones(2) / 2)
  ws = params["params"]["chunk_ws"]
  c = own.apply(params, jnp.ones(2) / 2, method="features")
  flat = lenet.spec.flatten(own.apply(params, jnp.ones(2) / 2))
  np.testing.assert_allclose(flat[1000:2000], c[1] @ ws[1, 0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("family", FAMILY_NAMES)
@pytest.mark.parametrize("target_name", ["phn_lenet", "mnist_two_conv", "cifar_resnet"])
def test_output_matches_target_spec_and_runs(family, target_name):
  target = make_target(target_name, **({"depth": 8} if target_name == "cifar_resnet" else {}))
  hnet, params = init_hypernet(small_families(target.spec)[family], jax.random.key(0), rays(4))
  weights = hnet.apply(params, rays(1)[0])
  target.spec.check(weights)
  chex.assert_tree_all_finite(weights)
  shape = (36, 36, 1) if target_name == "phn_lenet" else (28, 28, 1) if "mnist" in target_name \
      else (32, 32, 3)
  if target_name == "cifar_resnet":  # Shapes only: compiling a ResNet here is slow.
    jax.eval_shape(lambda w: target.apply(w, jnp.ones((2, *shape))), weights)
  else:
    chex.assert_tree_all_finite(target.apply(weights, jnp.ones((2, *shape))))


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_vmap_equals_python_loop(family, lenet):
  hnet, params = init_hypernet(small_families(lenet.spec)[family], jax.random.key(1), rays(8))
  conds = rays(5, seed=3)
  batched = jax.vmap(hnet.apply, in_axes=(None, 0))(params, conds)
  lenet.spec.check(batched, batch_shape=(5,))
  for i in range(5):
    chex.assert_trees_all_close(jax.tree.map(lambda x: x[i], batched),
                                hnet.apply(params, conds[i]), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_jit_equals_no_jit_and_traces_once(family, lenet):
  hnet, params = init_hypernet(small_families(lenet.spec)[family], jax.random.key(2), rays(8))
  chex.clear_trace_counter()

  @jax.jit
  @chex.assert_max_traces(n=1)
  def generate(p, r):
    return hnet.apply(p, r)

  for r in rays(3, seed=4):
    chex.assert_trees_all_close(generate(params, r), hnet.apply(params, r), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_gradients_through_target_are_finite_and_nonzero(family, lenet):
  hnet, params = init_hypernet(small_families(lenet.spec)[family], jax.random.key(3), rays(8))
  x = jax.random.uniform(jax.random.key(5), (4, 36, 36, 1))
  labels = jnp.array([1, 2, 3, 4])

  def loss(p, r):
    logits = lenet.apply(hnet.apply(p, r), x)
    return sum(-jnp.mean(jax.nn.log_softmax(l)[jnp.arange(4), labels]) for l in logits)

  grads = jax.grad(loss)(params, rays(1)[0])
  chex.assert_tree_all_finite(grads)
  assert all(float(jnp.abs(g).sum()) > 0 for g in jax.tree.leaves(grads))


def test_conditioning_forms():
  spec = Target.from_linen(MLP(hidden=(4,), num_outputs=2), jnp.zeros((1, 3))).spec
  both = Conditioner(num_embeddings=5, embedding_dim=6, vector_projection=4, normalize=True)
  hnet = MLPHypernet(spec, hidden=(8,), conditioner=both)
  conds = {"vector": rays(5, dim=3), "index": jnp.arange(5)}
  _, params = init_hypernet(hnet, jax.random.key(0), conds)
  assert params["params"]["conditioner"]["embedding"]["embedding"].shape == (5, 6)
  assert params["params"]["conditioner"]["vector_embedding"]["kernel"].shape == (3, 4)
  out = jax.vmap(hnet.apply, in_axes=(None, 0))(params, conds)
  spec.check(out, batch_shape=(5,))
  # Different tasks give different weights.
  assert not np.allclose(out["Dense_0"]["kernel"][0], out["Dense_0"]["kernel"][1])

  index_only = MLPHypernet(spec, hidden=(8,), conditioner=Conditioner(num_embeddings=3))
  _, p = init_hypernet(index_only, jax.random.key(0), jnp.arange(3))
  spec.check(index_only.apply(p, jnp.asarray(2)))
  with pytest.raises(ValueError, match="no embedding table"):
    init_hypernet(MLPHypernet(spec, hidden=(8,)), jax.random.key(0), jnp.arange(3))


def test_scale_leaves_generated_around_one():
  class Normed(nn.Module):
    @nn.compact
    def __call__(self, x):
      return nn.LayerNorm()(nn.Dense(4)(x))

  spec = Target.from_linen(Normed(), jnp.zeros((1, 3))).spec
  for init in ("hyperfan_in", "hyperfan_out"):
    hnet, params = init_hypernet(MLPHypernet(spec, hidden=(8,)), jax.random.key(0), rays(4), init)
    weights = hnet.apply(params, rays(1)[0])
    np.testing.assert_allclose(weights["LayerNorm_0"]["scale"], 1.0)
    np.testing.assert_allclose(weights["LayerNorm_0"]["bias"], 0.0)


@pytest.mark.parametrize("family", FAMILY_NAMES)
@pytest.mark.parametrize("init,mode", [("hyperfan_in", "fan_in"), ("hyperfan_out", "fan_out")])
def test_hyperfan_gives_the_plain_targets_he_variance(family, init, mode):
  """Generated kernels have He's variance 2/fan (variance_scaling(2.0, mode)) within 15%.

  Targets without biases, so hyperfan-in does not halve the kernel variance. The
  variance is taken over the 256 conditions E[c^2] was measured on, and 4 seeds.
  """

  class NoBias(nn.Module):
    @nn.compact
    def __call__(self, x):
      x = nn.relu(nn.Conv(12, (5, 5), use_bias=False)(x))
      x = nn.relu(nn.Dense(40, use_bias=False)(x.reshape(x.shape[0], -1)))
      return nn.Dense(10, use_bias=False)(x)

  target = Target.from_linen(NoBias(), jnp.zeros((1, 8, 8, 3)))
  he = jax.nn.initializers.variance_scaling(2.0, mode, "normal")
  ratios, plain_ratios = [], []
  for seed in range(4):
    module = small_families(target.spec)[family]
    hnet, params = init_hypernet(module, jax.random.key(seed), rays(256, seed), init, scale=2.0)
    weights = jax.vmap(hnet.apply, in_axes=(None, 0))(params, rays(256, seed))
    row, plain_row = [], []
    for leaf, w in zip(target.spec.leaves, jax.tree.leaves(weights)):
      fan = leaf.fan_in if mode == "fan_in" else leaf.fan_out
      row.append(float(jnp.var(w)) * fan / 2.0)
      # The same yardstick for the plain target's own He init.
      plain_row.append(float(jnp.var(he(jax.random.key(seed), leaf.shape))) * fan / 2.0)
    ratios.append(row)
    plain_ratios.append(plain_row)
  # Var(generated) / (2 / fan), per leaf, pooled over the seeds: within 15% of 1,
  # as is the plain He init measured the same way; every single seed within 35%.
  np.testing.assert_allclose(np.mean(ratios, 0), 1.0, atol=0.15)
  np.testing.assert_allclose(np.mean(plain_ratios, 0), 1.0, atol=0.15)
  np.testing.assert_allclose(ratios, 1.0, atol=0.35)


def test_hyperfan_in_halves_kernels_with_bias_and_sets_bias_variance(lenet):
  variances = target_variances(lenet.spec, "fan_in", scale=2.0)
  by_name = dict(zip((l.name for l in lenet.spec.leaves), variances))
  assert by_name["Conv_0/kernel"] == pytest.approx(1.0 / 81)
  assert by_name["Conv_0/bias"] == pytest.approx(1.0)
  out = dict(zip((l.name for l in lenet.spec.leaves), target_variances(lenet.spec, "fan_out")))
  assert out["Dense_0/kernel"] == pytest.approx(1 / 50)
  assert out["Dense_0/bias"] == 0.0  # 1 - 500/50 < 0 is clipped.
  assert out["Conv_0/bias"] == pytest.approx(1 - 81 / 810)


@pytest.mark.parametrize("family", ["mlp", "chunked"])
def test_init_bias_variance_sets_generated_biases_and_keeps_kernels_whole(lenet, family):
  """bias_variance=0: kernels at the full gain / fan_in (no halving), biases at ~0 (the MLP
  family's zero head: exactly 0; the chunked family's 1e-2 multiplier on unit-variance raw
  outputs); a positive bias_variance is the biases' variance as is."""
  variances = dict(zip((l.name for l in lenet.spec.leaves),
                       target_variances(lenet.spec, "fan_in", scale=2.0, bias_variance=0.0)))
  assert variances["Conv_0/kernel"] == pytest.approx(2.0 / 81)
  assert variances["Conv_0/bias"] == 0.0
  given = dict(zip((l.name for l in lenet.spec.leaves),
                   target_variances(lenet.spec, "fan_in", 2.0, bias_variance=0.3)))
  assert given["Dense_0/bias"] == pytest.approx(0.3)
  assert given["Dense_0/kernel"] == pytest.approx(2.0 / lenet.spec["Dense_0/kernel"].fan_in)
  with pytest.raises(ValueError, match="bias_variance must be None or >= 0"):
    target_variances(lenet.spec, "fan_in", bias_variance=-1.0)
  module = small_families(lenet.spec)[family]
  hnet, params = init_hypernet(module, jax.random.key(0), rays(64), "hyperfan_in", 2.0,
                               bias_variance=0.0)
  weights = jax.vmap(hnet.apply, in_axes=(None, 0))(params, rays(64))
  assert float(jnp.var(weights["Conv_0"]["kernel"])) * 81 / 2.0 == pytest.approx(1.0, abs=0.35)
  for name in ("Conv_0", "Conv_1", "Dense_0", "head_0"):
    assert float(jnp.sqrt(jnp.mean(jnp.square(weights[name]["bias"])))) < 0.02


def test_unknown_init_is_refused(lenet):
  with pytest.raises(ValueError, match="Unknown hypernetwork init 'xavier'"):
    init_hypernet(MLPHypernet(lenet.spec), jax.random.key(0), rays(2), "xavier")


def test_chunked_center_features_decorrelates_the_chunks(lenet):
  """A ReLU trunk's chunk features are positively correlated (one shared projection then
  moves every chunk mostly by the others' gradients); centred ones sum to zero over the
  chunks, so their mean pairwise cosine is about 0, and the rest is unchanged."""
  def cosines(features):
    unit = features / jnp.linalg.norm(features, axis=-1, keepdims=True)
    gram = unit @ unit.T
    n = gram.shape[0]
    return float((jnp.sum(gram) - jnp.trace(gram)) / (n * (n - 1)))
  kwargs = dict(chunk_size=200, num_ws=1, hidden=(32, 32, 32), chunk_embedding_dim=8)
  plain = ChunkedHypernet(lenet.spec, **kwargs)
  centred = ChunkedHypernet(lenet.spec, center_features=True, **kwargs)
  params = plain.init(jax.random.key(0), rays(1)[0])
  ray = rays(1)[0]
  c_plain = plain.apply(params, ray, method="features")
  c_centred = centred.apply(params, ray, method="features")
  assert c_plain.shape[0] > 100
  assert cosines(c_plain) > 0.3
  np.testing.assert_allclose(jnp.mean(c_centred, axis=0), 0.0, atol=1e-5)
  assert abs(cosines(c_centred)) < 0.02  # -1/(n-1) for equal norms
  np.testing.assert_allclose(c_centred, c_plain - c_plain.mean(0), atol=1e-5)
  chex.assert_trees_all_equal_shapes(plain.apply(params, ray), centred.apply(params, ray))


def test_chunked_refuses_too_few_chunks(lenet):
  hnet = ChunkedHypernet(lenet.spec, chunk_size=100, num_ws=2, num_chunks=3)
  with pytest.raises(ValueError, match="cannot cover"):
    hnet.init(jax.random.key(0), jnp.ones(2))


def test_linear_hypernet_counts_and_is_affine_in_the_embedding(lenet):
  """(d + 1) P parameters for a d-dim input; W(a e1 + (1-a) e2) = a W(e1) + (1-a) W(e2)."""
  hnet = make_hypernet("linear", lenet.spec, Conditioner(num_embeddings=3, embedding_dim=6))
  params = hnet.init(jax.random.key(0), jnp.asarray(0))
  assert num_params(params) == 7 * lenet.spec.size + 3 * 6
  vector = LinearHypernet(lenet.spec)
  p = vector.init(jax.random.key(0), jnp.ones(4))
  assert num_params(p) == 5 * lenet.spec.size
  e1, e2 = jnp.array([1., 0., 2., 3.]), jnp.array([0., 1., -1., 0.5])
  mixed = vector.apply(p, 0.25 * e1 + 0.75 * e2)
  expected = jax.tree.map(lambda a, b: 0.25 * a + 0.75 * b, vector.apply(p, e1), vector.apply(p, e2))
  chex.assert_trees_all_close(mixed, expected, atol=1e-5)


def test_independent_networks_are_one_network_per_task(lenet):
  hnet = make_hypernet("independent", lenet.spec, Conditioner(num_embeddings=4))
  params = hnet.init(jax.random.key(0), jnp.asarray(0))
  assert num_params(params) == 4 * lenet.spec.size
  stacked = jax.vmap(hnet.apply, in_axes=(None, 0))(params, jnp.arange(4))
  lenet.spec.check(stacked, batch_shape=(4,))
  # Task t's weights are its own rows; changing task 2's parameters changes no other task.
  bumped = jax.tree.map(lambda x: x.at[2].add(1.0), params)
  after = jax.vmap(hnet.apply, in_axes=(None, 0))(bumped, jnp.arange(4))
  for t in range(4):
    same = all(np.allclose(a[t], b[t]) for a, b in zip(jax.tree.leaves(after),
                                                         jax.tree.leaves(stacked)))
    assert same == (t != 2)
  # LeCun-normal kernels, zero biases: the plain target's own init statistics.
  for leaf, w in zip(lenet.spec.leaves, jax.tree.leaves(stacked)):
    if leaf.kind == "kernel":
      assert float(jnp.var(w)) * leaf.fan_in == pytest.approx(1.0, rel=0.15)
    else:
      assert float(jnp.abs(w).max()) == 0.0
  with pytest.raises(ValueError, match="task index"):
    hnet.apply(params, jnp.ones(2))
  with pytest.raises(ValueError, match="no hyperfan"):
    init_hypernet(hnet, jax.random.key(0), jnp.arange(4), "hyperfan_in")
  with pytest.raises(ValueError, match="number of tasks"):
    IndependentNetworks(lenet.spec).init(jax.random.key(0), jnp.asarray(0))


def test_torch_default_init_matches_pytorch_linear_defaults():
  """U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for every dense kernel and bias (nn.Linear's
  defaults), so a PyTorch recipe can be compared exactly; deterministic in the key."""
  from hyperjax.hypernets import MLPHypernet  # pylint: disable=g-import-not-at-top
  from hyperjax.targets import make_target  # pylint: disable=g-import-not-at-top
  target = make_target("phn_lenet")
  rays = jnp.asarray(np.random.default_rng(0).dirichlet([0.2, 0.2], 8), jnp.float32)
  hnet, variables = init_hypernet(MLPHypernet(target.spec), jax.random.key(0), rays,
                                  "torch_default")
  _, again = init_hypernet(MLPHypernet(target.spec), jax.random.key(0), rays, "torch_default")
  chex.assert_trees_all_equal(variables, again)
  dense = 0
  for path, leaf in jax.tree_util.tree_flatten_with_path(variables)[0]:
    names = [getattr(k, "key", "") for k in path]
    module = variables
    for k in names[:-1]:
      module = module[k]
    fan_in = module["kernel"].shape[0]
    bound = 1 / np.sqrt(fan_in)
    leaf = np.asarray(leaf)
    assert np.all(np.abs(leaf) <= bound + 1e-7), names
    if leaf.size > 10_000:  # uniform variance bound^2 / 3, and not the Flax default's 1/fan_in
      np.testing.assert_allclose(leaf.var(), bound ** 2 / 3, rtol=0.05)
    dense += 1
  assert dense == 2 * (3 + len(target.spec.leaves))  # trunk Dense_0..2 and one head per leaf
  weights = hnet.apply(variables, rays[0])
  target.spec.check(weights)


def test_plain_init_of_an_embedding_leaf_has_flaxs_variance():
  """Embedding leaves start as nn.Embed does (Var = 1/features), not 1/num_embeddings."""
  from hyperjax.hypernets.init import plain_leaf_init  # pylint: disable=g-import-not-at-top
  from hyperjax.spec import weight_spec  # pylint: disable=g-import-not-at-top

  class Table(nn.Module):
    @nn.compact
    def __call__(self, idx):
      return nn.Embed(1000, 8)(idx)

  idx = jnp.zeros((1,), jnp.int32)
  leaf = weight_spec(Table(), idx)["Embed_0/embedding"]
  ours = plain_leaf_init(leaf)(jax.random.key(0), leaf.shape)
  flax_table = Table().init(jax.random.key(1), idx)["params"]["Embed_0"]["embedding"]
  assert float(jnp.var(ours)) == pytest.approx(float(jnp.var(flax_table)), rel=0.1)
  assert float(jnp.var(ours)) == pytest.approx(1 / 8, rel=0.1)
