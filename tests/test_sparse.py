"""Sparse layers: connectivity properties, and every backend equal to a NumPy oracle."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperjax import sparse


@pytest.mark.parametrize("distribution", sparse.DISTRIBUTIONS)
@pytest.mark.parametrize("in_dim,out_dim,k", [(16, 32, 3), (64, 128, 5), (8, 4, 8)])
def test_indices_have_k_distinct_inputs_per_unit(distribution, in_dim, out_dim, k):
  idx = sparse.make_indices(in_dim, out_dim, k, distribution, seed=3)
  assert idx.shape == (out_dim, k) and idx.dtype == np.int32
  assert idx.min() >= 0 and idx.max() < in_dim
  assert all(len(set(row)) == k for row in idx.tolist())
  sparse.make_indices.cache_clear()  # recomputed, not the cached array compared with itself
  again = sparse.make_indices(in_dim, out_dim, k, distribution, seed=3)
  assert again is not idx
  np.testing.assert_array_equal(idx, again)
  assert not np.array_equal(idx, sparse.make_indices(in_dim, out_dim, k, distribution, seed=4)) \
      or k == in_dim


def test_permutation_spreads_edges_evenly_and_normal_is_banded():
  idx = sparse.make_indices(256, 1024, 2, "permutation", seed=0)
  counts = np.bincount(idx.ravel(), minlength=256)
  assert counts.min() >= 6 and counts.max() <= 10  # 8 per input, up to the dedupe repairs
  banded = sparse.make_indices(256, 1024, 4, "normal", seed=0, sigma=4.0)
  centers = (np.arange(1024) + 0.5) / 4
  offset = (banded - centers[:, None] + 128) % 256 - 128  # wrapped distance
  assert np.median(np.abs(offset)) < 6
  uniform = sparse.make_indices(256, 1024, 4, "uniform", seed=0)
  offset_u = (uniform - centers[:, None] + 128) % 256 - 128
  assert np.median(np.abs(offset_u)) > 40


def test_layer_widths_and_schedules():
  assert sparse.layer_widths(512, 10_000) == [512, 1024, 2048, 4096, 8192, 10_000]
  assert sparse.layer_widths(512, 1024) == [512, 1024]
  assert sparse.layer_widths(4, 100, base=3) == [4, 12, 36, 100]
  assert sparse.schedule("constant", 4, 3) == [3, 3, 3, 3]
  assert sparse.schedule("linear", 4) == [4, 3, 2, 1]
  assert sparse.schedule("exponential", 5) == [5, 3, 2, 2, 1]
  with pytest.raises(ValueError, match="Unknown connectivity schedule"):
    sparse.schedule("cubic", 3)
  with pytest.raises(ValueError, match="exceeds the layer's 4 inputs"):
    sparse.make_indices(4, 8, 5)


def _oracle(x, values, idx, in_dim):
  w = np.zeros((idx.shape[0], in_dim))
  np.add.at(w, (np.repeat(np.arange(idx.shape[0]), idx.shape[1]), idx.ravel()), values.ravel())
  return x @ w.T


@settings(max_examples=15, deadline=None)
@given(in_dim=st.integers(2, 40), out_dim=st.integers(1, 40), k=st.integers(1, 6),
       batch=st.integers(1, 5), seed=st.integers(0, 100))
def test_backends_equal_the_dense_oracle(in_dim, out_dim, k, batch, seed):
  k = min(k, in_dim)
  idx = sparse.make_indices(in_dim, out_dim, k, "uniform", seed)
  rng = np.random.default_rng(seed)
  values = rng.normal(size=(out_dim, k)).astype(np.float32)
  x = rng.normal(size=(batch, in_dim)).astype(np.float32)
  expected = _oracle(x, values, idx, in_dim)
  for backend in sparse.BACKENDS:
    y = sparse.sparse_matmul(jnp.asarray(x), jnp.asarray(values), idx, in_dim, backend)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5, err_msg=backend)


@pytest.mark.parametrize("backend", sparse.BACKENDS)
def test_backend_gradients_and_vmap_over_conditions_equal_ell(backend):
  in_dim, out_dim, k = 24, 40, 3
  idx = sparse.make_indices(in_dim, out_dim, k, "mixed", seed=1)
  values = jax.random.normal(jax.random.key(0), (6, out_dim, k))  # 6 conditions
  x = jax.random.normal(jax.random.key(1), (6, 5, in_dim))

  def loss(v, x, backend):
    return jnp.sum(jnp.tanh(sparse.sparse_matmul(x, v, idx, in_dim, backend)) ** 2)

  grad = lambda b: jax.jit(jax.vmap(jax.grad(loss, argnums=(0, 1)), in_axes=(0, 0, None)),
                           static_argnums=2)
  expected = grad("ell")(values, x, "ell")
  got = grad(backend)(values, x, backend)
  chex.assert_trees_all_close(got, expected, rtol=1e-5, atol=1e-5)
  loop = [jax.grad(loss, argnums=(0, 1))(values[i], x[i], backend) for i in range(6)]
  chex.assert_trees_all_close(got, jax.tree.map(lambda *a: jnp.stack(a), *loop), rtol=1e-5,
                              atol=1e-5)


def test_sparse_linear_params_are_only_values_and_bias():
  layer = sparse.SparseLinear(64, k=4, use_bias=True, backend="segment")
  x = jnp.ones((2, 32))
  params = layer.init(jax.random.key(0), x)["params"]
  assert jax.tree.map(jnp.shape, params) == {"values": (64, 4), "bias": (64,)}
  y = layer.apply({"params": params}, x)
  idx = layer.indices(32)
  np.testing.assert_allclose(y, _oracle(np.ones((2, 32)), np.asarray(params["values"]), idx, 32),
                             rtol=1e-5)
  # Variance-preserving init: unit-variance inputs give ~unit-variance outputs.
  big = sparse.SparseLinear(4096, k=8)
  z = jax.random.normal(jax.random.key(2), (64, 512))
  out = big.apply(big.init(jax.random.key(3), z), z)
  assert 0.8 < float(jnp.var(out)) < 1.2
  with pytest.raises(ValueError, match="Unknown sparse backend"):
    sparse.SparseLinear(4, backend="csr").init(jax.random.key(0), x)


# ---- SparseHypernet ------------------------------------------------------------------------

from hyperjax.hypernets import SparseHypernet  # noqa: E402
from hyperjax.targets import make_target  # noqa: E402


@pytest.fixture(scope="module")
def mlp_target():
  return make_target("mlp", hidden=(16,), num_outputs=10)  # 12,730 parameters


@pytest.mark.parametrize("schedule,expected_k", [("constant", [3] * 5),
                                                 ("linear", [5, 4, 3, 2, 1]),
                                                 ("exponential", [5, 3, 2, 2, 1])])
def test_structure_widths_edges_and_exact_outputs(mlp_target, schedule, expected_k):
  spec = mlp_target.spec
  hnet = SparseHypernet.for_tasks(spec, num_tasks=3, latent_dim=512, schedule=schedule)
  assert spec.size == 12_730
  assert hnet.widths() == [512, 1024, 2048, 4096, 8192, 12_730]
  assert hnet.edges_per_layer() == expected_k
  variables = hnet.init(jax.random.key(0), jnp.int32(0))
  params = variables["params"]
  for i, (width, k) in enumerate(zip(hnet.widths()[1:], expected_k)):
    assert params[f"sparse_{i}"]["values"].shape == (width, k)  # exactly k edges per unit
  assert sum(x.size for x in jax.tree.leaves(params)) == hnet.num_params_formula + 3 * 512
  weights = hnet.apply(variables, jnp.int32(2))
  spec.check(weights)  # exactly P outputs, in the target's structure


def test_backends_equal_in_hypernet_value_and_gradient_under_vmap():
  # A small target: the dense backend materialises every [out, in] matrix.
  small = make_target("mlp", input_shape=(6, 6, 1), hidden=(16,), num_outputs=4)
  spec = small.spec
  tasks = jnp.arange(3)
  x = jax.random.normal(jax.random.key(1), (4, 6, 6, 1))
  results = {}
  for backend in sparse.BACKENDS:
    hnet = SparseHypernet.for_tasks(spec, 3, latent_dim=32, activation="prelu", use_bias=True,
                                    distribution="mixed", backend=backend)
    variables = hnet.init(jax.random.key(0), jnp.int32(0))

    def loss(v, t):
      return jnp.sum(small.apply(hnet.apply(v, t), x) ** 2)

    results[backend] = jax.jit(jax.vmap(jax.value_and_grad(loss), in_axes=(None, 0)))(
        variables, tasks)
  for backend in sparse.BACKENDS:
    chex.assert_trees_all_close(results[backend], results["ell"], rtol=2e-4, atol=1e-5)


def test_structure_is_deterministic_in_its_seed(mlp_target):
  """Same seed, same structure even when it is rebuilt from scratch (the index cache cleared
  between the two), so a cached object is never just compared with itself."""
  from hyperjax.sparse import connectivity  # pylint: disable=g-import-not-at-top
  a = SparseHypernet.for_tasks(mlp_target.spec, 2, latent_dim=16, structure_seed=1)
  v = a.init(jax.random.key(0), jnp.int32(0))
  first = jax.tree.map(np.asarray, a.apply(v, jnp.int32(1)))
  indices = connectivity.make_indices(64, 32, 4, seed=1)
  connectivity.make_indices.cache_clear()
  rebuilt = connectivity.make_indices(64, 32, 4, seed=1)
  assert rebuilt is not indices and np.array_equal(rebuilt, indices)
  connectivity.make_indices.cache_clear()
  b = SparseHypernet.for_tasks(mlp_target.spec, 2, latent_dim=16, structure_seed=1)
  c = SparseHypernet.for_tasks(mlp_target.spec, 2, latent_dim=16, structure_seed=2)
  chex.assert_trees_all_equal(first, jax.tree.map(np.asarray, b.apply(v, jnp.int32(1))))
  assert not np.allclose(a.apply(v, jnp.int32(1))["Dense_0"]["kernel"],
                         c.apply(v, jnp.int32(1))["Dense_0"]["kernel"])


def test_default_scales_give_glorot_kernels(mlp_target):
  hnet = SparseHypernet.for_tasks(mlp_target.spec, 8, latent_dim=256)
  variables = hnet.init(jax.random.key(0), jnp.int32(0))
  weights = jax.vmap(hnet.apply, in_axes=(None, 0))(variables, jnp.arange(8))
  for leaf in mlp_target.spec.leaves:
    if leaf.kind == "kernel":
      w = weights[leaf.path[0]]["kernel"]
      ratio = float(jnp.var(w)) / (2.0 / (leaf.fan_in + leaf.fan_out))
      assert 0.6 < ratio < 1.6, (leaf.name, ratio)
