"""Models "a user wrote", importable as ``tests.user_models:NAME`` (the import-path tests)."""

import flax.linen as nn
from flax import nnx


class TwoHeadMLP(nn.Module):
  """A two-head classifier on flattened images: one logits array per task."""

  hidden: int = 32
  num_tasks: int = 2
  num_classes: int = 10

  @nn.compact
  def __call__(self, x):
    h = nn.relu(nn.Dense(self.hidden)(x.reshape(x.shape[0], -1)))
    return tuple(nn.Dense(self.num_classes, name=f"head_{t}")(h) for t in range(self.num_tasks))


class TwoOutputRegressor(nnx.Module):
  """An NNX regression network with two scalar outputs."""

  def __init__(self, din: int = 2, width: int = 8, *, rngs: nnx.Rngs):
    self.trunk = nnx.Linear(din, width, rngs=rngs)
    self.out = nnx.Linear(width, 2, rngs=rngs)

  def __call__(self, x):
    y = self.out(nnx.tanh(self.trunk(x)))
    return y[:, 0], y[:, 1]
