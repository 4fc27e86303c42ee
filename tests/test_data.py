"""Data: IDX reading and digests on ../shared/data, the embedded sample, task splits, batching."""

import gzip
import shutil

import numpy as np
import pytest

from hyperjax import data as data_lib
from hyperjax.data import embedded, idx, pipeline, tasks

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def mnist(shared_data):
  return idx.load_idx(shared_data / "mnist", "mnist")


def test_mnist_label_counts_and_shapes(mnist):
  images, labels = mnist["train"]
  assert images.shape == (60_000, 28, 28) and images.dtype == np.uint8
  assert np.bincount(labels).tolist() == MNIST_TRAIN_COUNTS
  assert np.bincount(mnist["test"][1]).tolist() == MNIST_TEST_COUNTS


def test_fashion_mnist_verifies(shared_data):
  fashion = idx.load_idx(shared_data / "fashion_mnist", "fashion_mnist")
  assert np.bincount(fashion["train"][1]).tolist() == [6000] * 10


def test_corrupted_copy_is_refused_by_name(shared_data, tmp_path):
  for f in (shared_data / "mnist").iterdir():
    shutil.copy(f, tmp_path / f.name)
  raw = bytearray(idx.read_idx_bytes(tmp_path / "t10k-labels-idx1-ubyte.gz"))
  raw[100] = (raw[100] + 1) % 10
  (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
  with gzip.open(tmp_path / "t10k-labels-idx1-ubyte.gz", "wb") as f:
    f.write(bytes(raw))
  with pytest.raises(idx.DataError, match="t10k-labels-idx1-ubyte.gz does not match"):
    idx.load_idx(tmp_path, "mnist")
  # Nothing on disk was touched by the refusal.
  assert (tmp_path / "t10k-labels-idx1-ubyte.gz").is_file()


def test_other_dataset_in_folder_is_refused(shared_data):
  with pytest.raises(idx.DataError, match="does not match the canonical mnist"):
    idx.load_idx(shared_data / "fashion_mnist", "mnist")


def test_missing_files_are_named(tmp_path):
  with pytest.raises(idx.DataError, match="train-images-idx3-ubyte"):
    idx.load_idx(tmp_path, "mnist")


def test_uncompressed_files_also_read(shared_data, tmp_path):
  for f in (shared_data / "mnist").iterdir():
    (tmp_path / f.name.removesuffix(".gz")).write_bytes(idx.read_idx_bytes(f))
  assert idx.load_idx(tmp_path, "mnist")["test"][0].shape == (10_000, 28, 28)


def test_embedded_sample_is_real_balanced_mnist(mnist):
  sample = embedded.load_embedded("mnist")
  images, labels = sample["train"]
  assert images.shape == (5000, 28, 28) and np.bincount(labels).tolist() == [500] * 10
  assert np.bincount(sample["test"][1]).tolist() == [100] * 10
  # The first sample image of class 0 is the first 0 of the real training set.
  first_zero = np.flatnonzero(mnist["train"][1] == 0)[0]
  np.testing.assert_array_equal(images[labels == 0][0], mnist["train"][0][first_zero])


def test_load_dataset_sources(shared_data):
  ds = data_lib.load_dataset("mnist", "idx", str(shared_data / "mnist"))
  assert ds.source.startswith("idx:") and ds.train[0].shape == (60_000, 28, 28, 1)
  assert ds.train[0].dtype == np.float32 and 0 <= ds.train[0].min() and ds.train[0].max() <= 1
  assert data_lib.load_dataset("fashion_mnist", "embedded").source == "embedded"
  with pytest.raises(idx.DataError, match="Unknown data source"):
    data_lib.load_dataset("mnist", "web")


def test_auto_without_local_copy_refuses_unless_quick(monkeypatch):
  monkeypatch.setattr(idx, "find_idx_folder", lambda name: None)
  with pytest.raises(idx.DataError, match="No copy of mnist found"):
    data_lib.load_dataset("mnist", "auto", allow_embedded=False)
  assert data_lib.load_dataset("mnist", "auto", allow_embedded=True).source == "embedded"


def test_split_tasks_properties():
  sample = embedded.load_embedded("mnist")
  ts = tasks.split_tasks(sample["train"], sample["test"], 2)
  assert ts.num_tasks == 5 and ts.classes[3] == (6, 7) and ts.num_classes == 2
  for t, (images, labels) in enumerate(ts.train):
    assert set(np.unique(labels)) == {0, 1} and len(images) == 1000
  # Task 3 holds exactly the 6s and 7s, relabelled 0 and 1.
  np.testing.assert_array_equal(ts.test[3][1], sample["test"][1][np.isin(sample["test"][1], (6, 7))] - 6)


def test_permuted_tasks_properties():
  sample = embedded.load_embedded("mnist")
  ts = tasks.permuted_tasks(sample["train"], sample["test"], 3, seed=7)
  again = tasks.permuted_tasks(sample["train"], sample["test"], 3, seed=7)
  np.testing.assert_array_equal(ts.train[0][0], sample["train"][0])  # task 0: identity
  for t in (1, 2):
    np.testing.assert_array_equal(ts.train[t][0], again.train[t][0])
    # A permutation: every image keeps its multiset of pixel values.
    np.testing.assert_array_equal(np.sort(ts.train[t][0][5].ravel()),
                                  np.sort(sample["train"][0][5].ravel()))
    assert not np.array_equal(ts.train[t][0], sample["train"][0])
  assert not np.array_equal(ts.train[1][0], ts.train[2][0])


def test_batches_cover_each_epoch_once_and_are_deterministic():
  n, b = 103, 10
  epoch0 = np.concatenate([pipeline.batch_indices(n, b, 3, s) for s in range(10)])
  assert len(np.unique(epoch0)) == 100  # 10 full batches, remainder of 3 dropped.
  np.testing.assert_array_equal(pipeline.batch_indices(n, b, 3, 4), pipeline.batch_indices(n, b, 3, 4))
  assert not np.array_equal(pipeline.batch_indices(n, b, 3, 0), pipeline.batch_indices(n, b, 3, 10))
  with pytest.raises(ValueError, match="exceeds"):
    pipeline.batch_indices(5, 10, 0, 0)
