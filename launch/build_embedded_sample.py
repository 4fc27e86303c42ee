"""Rebuilds the embedded MNIST / Fashion-MNIST samples from verified IDX files.

  python -m launch.build_embedded_sample --idx_root=../shared/data
"""

from absl import app, flags

from hyperjax.data import embedded

FLAGS = flags.FLAGS
flags.DEFINE_string("idx_root", "../shared/data", "Folder holding mnist/ and fashion_mnist/.")
flags.DEFINE_integer("train_per_class", 500, "Training images kept per class.")
flags.DEFINE_integer("test_per_class", 100, "Test images kept per class.")


def main(argv):
  del argv
  for name in embedded.EMBEDDED_NAMES:
    path = embedded.build_embedded_sample(name, f"{FLAGS.idx_root}/{name}", FLAGS.train_per_class,
                                          FLAGS.test_per_class)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
  app.run(main)
