"""Meshes, sharding rules, and one-device vs many-device equivalence of every family.

The equivalence tests start ``tests/sharded_runner.py`` in a fresh process with 8 fake
CPU devices and compare each mesh's training losses (3 steps) and evaluation figures to
those of the one-device mesh ``data=1``: relative tolerance 1e-5 on losses (float32
reductions reordered across devices), 1e-5 / absolute 1e-6 on evaluation figures.
"""

import json
import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax.sharding import PartitionSpec as P

from hyperjax.training import sharding

RUNNER = pathlib.Path(__file__).with_name("sharded_runner.py")


def test_parse_mesh_fills_and_refuses():
  assert sharding.parse_mesh("data=-1", 8) == (("data",), (8,))
  assert sharding.parse_mesh("data=2,model=-1", 8) == (("data", "model"), (2, 4))
  assert sharding.parse_mesh("ray=4,data=2", 8) == (("ray", "data"), (4, 2))
  assert sharding.parse_mesh("data=1", 8) == (("data",), (1,))
  assert sharding.parse_mesh("", 2) == (("data",), (2,))
  for bad, match in [("data=3,model=-1", "not a multiple"), ("data=16", "needs 16 devices"),
                     ("dada=2", "Bad mesh entry"), ("data=-1,model=-1", "one -1"),
                     ("data=0", "positive"), ("data=2,data=2", "Bad mesh entry")]:
    with pytest.raises(sharding.ShardingError, match=match):
      sharding.parse_mesh(bad, 8)


def _fake_parallelism(**axes):
  """A Parallelism whose rules are evaluated against the given axis sizes (no devices)."""

  class FakeMesh:
    axis_names = tuple(axes)
    devices = np.empty(tuple(axes.values()))

  return sharding.Parallelism(FakeMesh())


def test_rules_shard_hypernet_outputs_and_replicate_the_rest():
  from hyperjax.hypernets import ChunkedHypernet, MLPHypernet, SparseHypernet  # pylint: disable=g-import-not-at-top
  par = _fake_parallelism(data=2, model=4)
  assert par.leaf_spec("params/heads_3/kernel", (100, 160000)) == P()  # no family: replicated
  for family in (MLPHypernet, ChunkedHypernet, SparseHypernet):
    par = par.for_model(family)
  assert par.leaf_spec("params/heads_3/kernel", (100, 160000)) == P(None, "model")
  assert par.leaf_spec("opt_state/0/mu/params/heads_3/kernel", (100, 160000)) == P(None, "model")
  assert par.leaf_spec("params/heads_3/bias", (160000,)) == P("model")
  assert par.leaf_spec("params/ws", (11, 100, 10000)) == P(None, None, "model")
  assert par.leaf_spec("params/sparse_7/values", (131072, 3)) == P("model", None)
  # Not divisible by the axis: replicated, not an error.
  assert par.leaf_spec("params/heads_6/kernel", (100, 2)) == P(None, None)
  assert par.leaf_spec("params/trunk/dense_0/kernel", (32, 100)) == P()
  assert _fake_parallelism(data=8).for_model(ChunkedHypernet).leaf_spec(
      "params/ws", (11, 100, 10000)) == P(None, None, None)


def test_a_new_family_is_sharded_by_its_own_declared_rules():
  """A family declares its rules (hyperjax.hypernets.protocol); nothing else is edited."""
  import flax.linen as nn  # pylint: disable=g-import-not-at-top
  from hyperjax.hypernets.protocol import Hypernetwork  # pylint: disable=g-import-not-at-top

  class LowRank(nn.Module):
    spec: object = None
    conditioner: object = None
    sharding_rules = ((r"(^|/)basis$", (None, "model")),)

    @nn.compact
    def __call__(self, cond):
      return self.param("basis", nn.initializers.zeros, (4, 64)).sum() * cond

  assert isinstance(LowRank(), Hypernetwork)
  par = _fake_parallelism(data=2, model=4).for_model(LowRank())
  assert par.leaf_spec("params/basis", (4, 64)) == P(None, "model")


def test_one_device_state_step_and_batches():
  par = sharding.make_parallelism("data=1")
  state = par.create_state(lambda p: {"params": p, "count": jnp.zeros((), jnp.int32)},
                           {"heads_0": {"kernel": np.ones((3, 4), np.float32)}})
  assert state["params"]["heads_0"]["kernel"].sharding.mesh.shape == {"data": 1}

  @par.jit_step
  def step(s, x):
    return {"params": jax.tree.map(lambda p: p + x.sum(), s["params"]),
            "count": s["count"] + 1}, {"sum": x.sum()}

  for _ in range(3):
    state, metrics = step(state, par.shard_batch(np.ones((4, 2), np.float32)))
  assert int(state["count"]) == 3 and float(metrics["sum"]) == 8.0
  np.testing.assert_allclose(state["params"]["heads_0"]["kernel"], 25.0)
  assert step.compiled["fn"]._cache_size() == 1  # one compiled step
  rows = par.gather_rows((np.arange(10), np.arange(10) * 2), np.array([3, 1]))
  np.testing.assert_array_equal(rows[0], [3, 1])
  np.testing.assert_array_equal(rows[1], [6, 2])
  key = par.replicate(jax.random.key(3))
  assert jax.random.key_data(key).tolist() == jax.random.key_data(jax.random.key(3)).tolist()
  assert "mesh {'data': 1}" in par.describe(state)


# One fresh 8-device process for all cases (JAX starts once); each family also runs on data=1.
CASES = {
    "static": ["data=8", "data=4,model=2"],
    "chunked": ["task=2,data=2,model=2"],
    "sparse": ["data=2,model=4"],
    "pareto": ["ray=2,data=2,model=2"],
    "large": ["data=1,model=8", "data=2,model=4"],
}


def sharded_results() -> dict:
  env = dict(os.environ, PYTHONHASHSEED="0")
  env.pop("XLA_FLAGS", None)
  args = [f"{family}/{mesh}" for family, meshes in CASES.items() for mesh in meshes]
  proc = subprocess.run([sys.executable, str(RUNNER), *args], capture_output=True, text=True,
                        env=env, timeout=1200)
  lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULTS ")]
  assert proc.returncode == 0 and lines, proc.stdout[-3000:] + proc.stderr[-3000:]
  return json.loads(lines[-1].removeprefix("RESULTS "))


@pytest.mark.slow
def test_many_devices_equal_one_device():
  """Every family on every mesh of CASES against the same run on one device (one test, so
  that the 8-device process runs once whatever worker takes it), and the large target's
  hypernetwork split over 'model'."""
  everything = sharded_results()
  for family in ("static", "chunked", "sparse", "pareto"):
    _check_family(everything, family)
  _check_large_target(everything["large"])


def _check_family(sharded, family):
  results = dict(sharded[family])
  reference = results.pop("data=1")
  assert set(results) == set(CASES[family])
  assert len(reference["losses"]) == 3 and np.isfinite(reference["losses"]).all()
  for mesh, got in results.items():
    if family != "static" and "model" in mesh:  # the rules do split the hypernet
      assert "model" in got["layout"].split("split")[-1], got["layout"]
    np.testing.assert_allclose(got["losses"], reference["losses"], rtol=1e-5, err_msg=f"{family} {mesh}")
    assert got["evaluation"].keys() == reference["evaluation"].keys()
    for key, value in reference["evaluation"].items():
      np.testing.assert_allclose(got["evaluation"][key], value, rtol=1e-5, atol=1e-6,
                                 err_msg=f"{family} {mesh}: {key}")


def _check_large_target(results):
  one = results["data=1"]
  assert one["ws_shape"] == [1, 64, 1600] and one["ws_per_device"] == 64 * 1600
  assert results["data=1,model=8"]["ws_per_device"] == 64 * 1600 // 8
  assert results["data=2,model=4"]["ws_per_device"] == 64 * 1600 // 4
  for mesh in ("data=1,model=8", "data=2,model=4"):
    np.testing.assert_allclose(results[mesh]["final_loss"], one["final_loss"], rtol=1e-5)
