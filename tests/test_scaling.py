"""The performance suite's cases run the experiments' own steps and report what they claim
(tiny sizes on one device here; the 8-device layout is checked in tests/test_sharding.py)."""

import pytest

from hyperjax.experiments import scaling
from hyperjax.training import sharding


def test_static_case_row():
  (row,) = scaling.bench_static_mnist(sharding.make_parallelism("data=1"), batch_size=8,
                                      repeats=1)
  assert row["case"] == "static_mnist_hyper4_4" and row["devices"] == 1
  assert row["examples_per_s"] == pytest.approx(8 / row["median_s"])
  assert row["compile_s"] > 0
  assert row["bytes_per_device"] is None or row["bytes_per_device"] > 4 * 12_910


def test_large_target_case_counts_and_layout():
  (row,) = scaling.bench_large_target(mesh="data=1", hidden=(64,), input_dim=32,
                                      chunk_size=1000, batch_size=2, repeats=1)
  assert row["P"] == 32 * 64 + 64 + 64 * 10 + 10  # MLP 32-64-10
  assert row["ws_shape"] == [1, 64, 1000] and row["ws_per_device"] == 64_000
  # ws + 3 chunk embeddings (64) + trunk (96->64->64) + 2 task embeddings (32)
  assert row["hnet_params"] == 64_000 + 3 * 64 + (96 * 64 + 64) + (64 * 64 + 64) + 2 * 32
