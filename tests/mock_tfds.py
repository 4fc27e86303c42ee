"""Learnable stand-ins for tfds datasets that are not available offline (CIFAR-10/100).

``tfds.testing.mock_data`` on its own yields random images with random labels, on which
no model can beat chance, so an accuracy test on it can only check ``0 <= acc <= 1``.
:func:`class_coded` replaces the random records with images whose class is written in
them -- a colour of its own, plus pixel noise -- so that a model that learns reaches
a high accuracy and a broken one stays at chance. A plain colour survives the CIFAR
configs' pad-and-crop and flips, where a per-pixel pattern would not.
"""

import contextlib

import numpy as np


def class_coded_records(shape, num_classes, num_examples, seed=0, noise=8.0):
  """``num_examples`` records ``{'image': uint8 shape, 'label', 'coarse_label'}``.

  Class ``c``'s images are its colour (one value per channel, uniform in [32, 224], the
  same in every split) plus Gaussian pixel noise of standard deviation ``noise``; the
  split changes only the noise and the labels' order.
  """
  colours = np.random.default_rng(1234).uniform(32, 224, (num_classes, shape[-1]))
  templates = np.broadcast_to(colours[:, None, None, :], (num_classes, *shape))
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, num_classes, num_examples)
  images = np.clip(templates[labels] + rng.normal(0, noise, (num_examples, *shape)), 0, 255)
  return [{"image": img.astype(np.uint8), "label": int(y), "coarse_label": int(y) % 20}
          for img, y in zip(images, labels)]


@contextlib.contextmanager
def class_coded(num_examples):
  """Mock every ``tfds.data_source`` with :func:`class_coded_records` of its dataset's
  image shape and number of classes (``num_examples`` records per split)."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  def as_data_source(builder, split=None, **unused_kwargs):
    features = builder.info.features
    seed = sum(map(ord, str(split)))
    return class_coded_records(tuple(features["image"].shape), features["label"].num_classes,
                               num_examples, seed=seed)

  with tfds.testing.mock_data(num_examples=num_examples, as_data_source_fn=as_data_source):
    yield
