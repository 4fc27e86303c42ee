"""The benchmark harness measures what it claims (tiny sizes: this is not a timing test)."""

import jax.numpy as jnp
import pytest

from hyperjax import benchmarks


def test_time_call_counts_repeats_and_blocks():
  calls = []

  def fn():
    calls.append(1)
    return jnp.ones(3) * len(calls)

  timing = benchmarks.time_call(fn, repeats=4)
  assert len(calls) == 5  # one warm-up + four timed
  assert set(timing) == {"compile_s", "median_s", "min_s"}
  assert 0 <= timing["min_s"] <= timing["median_s"]


@pytest.mark.slow
def test_phn_step_rows_cover_each_case():
  rows = benchmarks.bench_phn_steps(num_rays_list=(1, 2), batch_size=8, repeats=1)
  cases = [(r["batching"], r["num_rays"]) for r in rows]
  assert cases == [("whole", 1), ("whole", 2), ("split", 2)]  # split needs >1 ray
  whole2 = rows[1]
  assert whole2["ray_examples_per_s"] == pytest.approx(16 / whole2["median_s"])
  assert rows[2]["examples_per_s"] == pytest.approx(8 / rows[2]["median_s"])


def test_format_table_aligns_union_of_columns():
  table = benchmarks.format_table([{"case": "a", "median_s": 0.123456}, {"case": "bb", "extra": 3}])
  lines = table.splitlines()
  assert lines[0].split() == ["case", "median_s", "extra"]
  assert "0.1235" in lines[1] and lines[2].split() == ["bb", "3"]
  assert lines[2].index("3") == lines[0].index("extra")  # columns line up


def test_sparse_backend_rows_and_dense_skip():
  rows = benchmarks.bench_sparse_backends(sizes=(3_000,), backends=("ell", "dense"),
                                          num_conditions=(1, 2), latent_dim=64, repeats=1,
                                          dense_limit_bytes=1e6)
  ell = [r for r in rows if r["backend"] == "ell"]
  assert [r["conditions"] for r in ell] == [1, 2]
  widths = [128, 256, 512, 1024, 2048, 3000]
  assert ell[0]["hnet_params"] == 3 * sum(widths) + 8 * 64
  assert ell[0]["compiled_bytes"] is None or ell[0]["compiled_bytes"] > 4 * ell[0]["hnet_params"]
  (dense,) = [r for r in rows if r["backend"] == "dense"]
  assert "skipped" in dense  # 2048 x 3000 floats = 24.6 MB > 1 MB


def test_sparse_large_target_rows_count_the_structure():
  rows = benchmarks.bench_sparse_large_target("phn_lenet", batch_size=4, repeats=1)
  assert [r["case"] for r in rows] == ["sparse_phn_lenet_generate",
                                       "sparse_phn_lenet_generate+forward+backward"]
  # PHN LeNet: 31,910 weights; 512 -> 1024 -> ... -> 16384 -> 31,910, 3 edges per unit,
  # plus two 512-dim task embeddings.
  widths = [1024, 2048, 4096, 8192, 16384, 31_910]
  assert all(r["P"] == 31_910 and r["hnet_params"] == 3 * sum(widths) + 2 * 512 for r in rows)
  assert all(r["median_s"] > 0 for r in rows)


def test_time_to_hv_rows_and_figure(tmp_path):
  """Per setting and epoch: cumulative training seconds (growing) and the test front's HV
  (positive: the random model's losses lie inside the reference box); options are checked."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from hyperjax import time_to_hv  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  split = lambda n: (rng.uniform(size=(n, 36, 36, 1)).astype(np.float32),
                     rng.integers(0, 10, (n, 2)).astype(np.int32))
  data = {"train": split(64), "test": split(40)}
  settings = {"a": {}, "b": {"num_rays": 4, "ray_batching": "split", "init": "torch_default"}}
  rows = time_to_hv.time_to_hv(data, settings, num_epochs=2, batch_size=16, num_eval_rays=3,
                               reference_point=(5.0, 5.0))
  assert [(r["setting"], r["epoch"]) for r in rows] == [("a", 1), ("a", 2), ("b", 1), ("b", 2)]
  for first, second in ((rows[0], rows[1]), (rows[2], rows[3])):
    assert 0 < first["train_s"] < second["train_s"]
  assert all(0 < r["test_hypervolume"] <= 25.0 for r in rows)  # losses ~2.3 < 5: a positive box
  time_to_hv.plot_time_to_hv(rows, str(tmp_path / "hv.png"))
  assert (tmp_path / "hv.png").stat().st_size > 5000
  with pytest.raises(ValueError, match="unknown option"):
    time_to_hv.time_to_hv(data, {"c": {"rays": 2}}, 1, batch_size=16)


def test_time_to_hv_evaluations_within_an_epoch_do_not_change_training():
  """Two evaluations per epoch: rows at epochs 0.5, 1, 1.5, 2, and the front after each whole
  epoch is the one of the run that evaluates once per epoch (evaluation reads the state)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import pytest  # pylint: disable=g-import-not-at-top
  from hyperjax import time_to_hv  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(1)
  split = lambda n: (rng.uniform(size=(n, 36, 36, 1)).astype(np.float32),
                     rng.integers(0, 10, (n, 2)).astype(np.int32))
  data = {"train": split(64), "test": split(40)}
  kwargs = dict(num_epochs=2, batch_size=16, num_eval_rays=3, reference_point=(5.0, 5.0))
  once = time_to_hv.time_to_hv(data, {"a": {}}, **kwargs)
  twice = time_to_hv.time_to_hv(data, {"a": {}}, evals_per_epoch=2, **kwargs)
  assert [r["epoch"] for r in twice] == [0.5, 1.0, 1.5, 2.0]
  assert time_to_hv._parts(421, 2, 2) == [(0, 210), (210, 421), (421, 631), (631, 842)]
  for r in once:
    match = next(t for t in twice if t["epoch"] == r["epoch"])
    assert match["test_hypervolume"] == pytest.approx(r["test_hypervolume"], rel=1e-6)
  thrice = time_to_hv.time_to_hv(data, {"a": {}}, evals_per_epoch=3, **kwargs)  # 4 = 1 + 1 + 2
  assert thrice[2]["test_hypervolume"] == pytest.approx(once[0]["test_hypervolume"], rel=1e-6)
  with pytest.raises(ValueError, match="evals_per_epoch must be between 1 and the 4 steps"):
    time_to_hv.time_to_hv(data, {"a": {}}, evals_per_epoch=5, **kwargs)
