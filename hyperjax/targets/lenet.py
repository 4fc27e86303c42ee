"""LeNet targets of the Pareto multi-task papers.

References:
  Navon, Shamsian, Chechik, Fetaya. "Learning the Pareto Front with Hypernetworks",
  ICLR 2021 (PHN LeNet, 31,910 parameters).
  Lin, Zhen, Li, Zhang, Kwong. "Pareto Multi-Task Learning", NeurIPS 2019
  (the same network with a ReLU after the 50-unit layer).
"""

from __future__ import annotations

from flax import linen as nn
import jax


class MultiTaskLeNet(nn.Module):
  """conv 9x9 (10) -> pool -> conv 5x5 (20) -> pool -> dense 50 -> one head per task.

  Input ``[batch, 36, 36, 1]`` (Multi-MNIST canvases); output a tuple of
  ``num_tasks`` logits arrays ``[batch, num_classes]``.

  Attributes:
    num_tasks: number of task heads.
    num_classes: classes per task.
    relu_after_fc: ParetoMTL's variant puts a ReLU after the 50-unit layer; PHN's
      does not.
  """

  num_tasks: int = 2
  num_classes: int = 10
  relu_after_fc: bool = False

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, ...]:
    x = nn.Conv(10, (9, 9), padding="VALID")(x)
    x = nn.max_pool(nn.relu(x), (2, 2), strides=(2, 2))
    x = nn.Conv(20, (5, 5), padding="VALID")(x)
    x = nn.max_pool(nn.relu(x), (2, 2), strides=(2, 2))
    x = x.reshape(x.shape[0], -1)
    x = nn.Dense(50)(x)
    if self.relu_after_fc:
      x = nn.relu(x)
    return tuple(nn.Dense(self.num_classes, name=f"head_{t}")(x)
                 for t in range(self.num_tasks))


def phn_lenet(num_tasks: int = 2, num_classes: int = 10) -> MultiTaskLeNet:
  """PHN's LeNet (no ReLU after the 50-unit layer): 31,910 parameters for 2 tasks."""
  return MultiTaskLeNet(num_tasks=num_tasks, num_classes=num_classes, relu_after_fc=False)


def paretomtl_lenet(num_tasks: int = 2, num_classes: int = 10) -> MultiTaskLeNet:
  """ParetoMTL's baseline LeNet (ReLU after the 50-unit layer)."""
  return MultiTaskLeNet(num_tasks=num_tasks, num_classes=num_classes, relu_after_fc=True)
