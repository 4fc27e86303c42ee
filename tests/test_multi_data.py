"""Multi-MNIST family, legacy pickles, rotation data, tfds (mock), augmentation, placement."""

import pickle

import numpy as np
import pytest

from configs import common

from hyperjax import data as data_lib
from hyperjax.data import embedded, multi_mnist as mm, pipeline, rotation, tasks, tfds_source


@pytest.fixture(scope="module")
def items():
  return {name: embedded.load_embedded(name) for name in embedded.EMBEDDED_NAMES}


def paste_oracle(first, second, shift):
  """One canvas built pixel by pixel (independent of the vectorised generator)."""
  canvas = np.zeros((36, 36), np.uint8)
  for k, item in enumerate((first, second)):
    r0 = mm.OFFSETS[k][0] + shift[k, 0]
    c0 = mm.OFFSETS[k][1] + shift[k, 1]
    for r in range(28):
      for c in range(28):
        if 0 <= r0 + r < 36 and 0 <= c0 + c < 36:
          canvas[r0 + r, c0 + c] = max(canvas[r0 + r, c0 + c], item[r, c])
  return canvas


@pytest.mark.parametrize("variant", sorted(mm.VARIANTS))
def test_canvases_follow_the_recipe(items, variant):
  out = mm.generate(variant, items, seed=3, num_train=400, num_test=50)
  top, bottom = mm.VARIANTS[variant]
  x1, y1 = items[top]["train"]
  x2, y2 = items[bottom]["train"]
  i, j = out["train_index"][:, 0], out["train_index"][:, 1]
  np.testing.assert_array_equal(out["train_labels"], np.stack([y1[i], y2[j]], 1))
  assert np.abs(out["train_shift"]).max() <= 4 and out["train_images"].shape == (400, 36, 36)
  if top == bottom:
    assert np.all(out["train_labels"][:, 0] != out["train_labels"][:, 1])
  for k in range(0, 400, 37):
    np.testing.assert_array_equal(out["train_images"][k],
                                  paste_oracle(x1[i[k]], x2[j[k]], out["train_shift"][k]))
  assert out["test_images"].shape == (50, 36, 36)


def test_items_lie_top_left_and_bottom_right(items):
  out = mm.generate("multi_mnist", items, seed=0, num_train=2000, num_test=10)
  mean = out["train_images"].astype(float).mean(0)
  # Ink in the corners that only one item can reach.
  assert mean[:8, :8].sum() > 5 * mean[:8, 28:].sum()
  assert mean[28:, 28:].sum() > 5 * mean[28:, :8].sum()


def test_generation_is_deterministic_and_cached(items, tmp_path):
  a = mm.generate("multi_fashion", items, seed=5, num_train=300, num_test=30)
  b = mm.generate("multi_fashion", items, seed=5, num_train=300, num_test=30)
  c = mm.generate("multi_fashion", items, seed=6, num_train=300, num_test=30)
  for key in a:
    assert a[key].tobytes() == b[key].tobytes()
  assert a["train_images"].tobytes() != c["train_images"].tobytes()
  loader = lambda name: items[name]
  first = mm.load_or_generate("multi_fashion", loader, "embedded", 5, 300, 30, tmp_path)
  files = list(tmp_path.iterdir())
  assert len(files) == 1 and "multi_fashion_seed5" in files[0].name
  calls = []
  cached = mm.load_or_generate("multi_fashion", lambda n: calls.append(n), "embedded", 5, 300,
                               30, tmp_path)
  assert not calls  # read from the cache, items never loaded
  np.testing.assert_array_equal(first.train[0], cached.train[0])
  assert len(first.train[0]) == 270 and len(first.val[0]) == 30  # 10% validation
  np.testing.assert_allclose(first.test[0][..., 0] * 255, a["test_images"], atol=1e-3)
  mm.load_or_generate("multi_fashion", loader, "embedded", 6, 300, 30, tmp_path)
  assert len(list(tmp_path.iterdir())) == 2  # keyed by seed


def test_corrupt_cache_is_regenerated(items, tmp_path):
  loader = lambda name: items[name]
  mm.load_or_generate("multi_mnist", loader, "embedded", 1, 100, 10, tmp_path)
  path = next(tmp_path.iterdir())
  path.write_bytes(b"not an npz")
  again = mm.load_or_generate("multi_mnist", loader, "embedded", 1, 100, 10, tmp_path)
  assert again.train[0].shape == (90, 36, 36, 1)


def test_full_size_multi_mnist_from_shared_data(tmp_path):
  config = common.data_block("multi_mnist", source="idx", cache_dir=str(tmp_path))
  ds = data_lib.load_multi(config)
  assert ds.source.startswith("idx:")
  assert (len(ds.train[0]), len(ds.val[0]), len(ds.test[0])) == (108_000, 12_000, 20_000)
  assert ds.train[0].dtype == np.float32 and ds.train[1].shape == (108_000, 2)


def test_embedded_multi_is_smaller_and_labelled(tmp_path):
  config = common.data_block("multi_mnist", source="embedded", cache_dir=str(tmp_path))
  ds = data_lib.load_multi(config)
  assert ds.source == "embedded" and len(ds.train[0]) + len(ds.val[0]) == 10_000


def test_legacy_pickle_round_trip(items, tmp_path):
  made = mm.generate("multi_mnist", items, seed=2, num_train=200, num_test=20)
  path = tmp_path / "multi_mnist.pickle"
  with open(path, "wb") as f:
    pickle.dump((made["train_images"].astype(np.float64) / 255, made["train_labels"],
                 made["test_images"].astype(np.float64) / 255, made["test_labels"]), f)
  config = common.data_block("multi_mnist", source="pickle", pickle_path=str(path))
  ds = data_lib.load_multi(config)
  assert ds.source == f"pickle:{path}" and len(ds.train[0]) == 180 and len(ds.val[0]) == 20
  np.testing.assert_allclose(ds.test[0][..., 0], made["test_images"] / 255, atol=1e-6)
  np.testing.assert_array_equal(ds.val[1], made["train_labels"][180:])


def test_bad_pickles_are_refused(tmp_path):
  bad = tmp_path / "bad.pickle"
  with open(bad, "wb") as f:
    pickle.dump({"x": 1}, f)
  with pytest.raises(data_lib.DataError, match="should hold"):
    mm.load_legacy_pickle(bad)
  with open(bad, "wb") as f:
    pickle.dump((np.zeros((4, 28, 28)), np.zeros((4, 2)), np.zeros((2, 28, 28)), np.zeros((2, 2))), f)
  with pytest.raises(data_lib.DataError, match="expected"):
    mm.load_legacy_pickle(bad)
  with pytest.raises(data_lib.DataError, match="does not exist"):
    mm.load_legacy_pickle(tmp_path / "missing.pickle")
  with pytest.raises(data_lib.DataError, match="needs data.pickle_path"):
    data_lib.load_multi(common.data_block("multi_mnist", source="pickle"))


def test_rotation_task():
  rng = np.random.default_rng(0)
  images = rng.random((24, 28, 28, 1)).astype(np.float32)
  inputs, rotated, labels = rotation.rotation_task(images, seed=1)
  assert set(np.unique(labels)) <= set(range(12)) and labels.dtype == np.int32
  np.testing.assert_array_equal(inputs, images)
  for k in range(24):
    if labels[k] == 0:
      np.testing.assert_allclose(rotated[k], images[k], atol=1e-5)
    if labels[k] == 3:  # 90 degrees counter-clockwise
      np.testing.assert_allclose(rotated[k], np.rot90(images[k], 1, axes=(0, 1)), atol=1e-5)
    if labels[k] == 6:
      np.testing.assert_allclose(rotated[k], np.rot90(images[k], 2, axes=(0, 1)), atol=1e-5)
  again = rotation.rotation_task(images, seed=1)
  np.testing.assert_array_equal(again[2], labels)


@pytest.mark.parametrize("name,shape,classes,tasks_kw,num_tasks", [
    ("mnist", (28, 28, 1), 10, {"classes_per_task": 2}, 5),
    ("cifar10", (32, 32, 3), 10, {"classes_per_task": 2}, 5),
    ("cifar100", (32, 32, 3), 100, {"classes_per_task": 10}, 10),
])
def test_tfds_source_with_mock_data(name, shape, classes, tasks_kw, num_tasks):
  tfds = pytest.importorskip("tensorflow_datasets")
  with tfds.testing.mock_data(num_examples=300):
    ds = data_lib.load_dataset(name, "tfds")
  assert ds.source == "tfds" and ds.train[0].shape == (300, *shape)
  assert ds.train[0].dtype == np.float32 and ds.train[1].max() < classes
  taskset = tasks.build_tasks("split", ds.train, ds.test, dataset=name, **tasks_kw)
  assert taskset.num_tasks == num_tasks
  assert sum(len(x) for x, _ in taskset.train) == 300


def test_cifar_without_tfds_copy_is_refused():
  with pytest.raises(data_lib.DataError, match="only available through tfds"):
    data_lib.load_dataset("cifar10", "idx")
  assert not tfds_source.is_prepared("cifar10", "/nonexistent")


def test_pad_and_crop_shifts_content():
  images = np.zeros((50, 28, 28, 1), np.float32)
  images[:, 10:18, 10:18] = 1
  out = pipeline.pad_and_crop(images, pad=2, seed=0, step=3)
  assert out.shape == images.shape
  np.testing.assert_array_equal(out.sum((1, 2, 3)), 64)  # nothing cropped away
  offsets = {tuple(np.argwhere(o[..., 0])[0]) for o in out}
  assert offsets <= {(10 + dy, 10 + dx) for dy in range(-2, 3) for dx in range(-2, 3)}
  assert len(offsets) > 5
  np.testing.assert_array_equal(out, pipeline.pad_and_crop(images, 2, 0, 3))


def test_padded_batches_cover_once():
  seen = []
  for sel, mask in pipeline.padded_batches(23, 10):
    assert len(sel) == 10
    seen += list(sel[mask > 0])
  assert sorted(seen) == list(range(23))
