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

from hyperjax.targets.conv import Conv2D, from_layout, max_pool2, to_layout


class MultiTaskLeNet(nn.Module):
  """conv 9x9 (10) -> pool -> conv 5x5 (20) -> pool -> dense 50 -> one head per task.

  Input ``[batch, 36, 36, 1]`` (Multi-MNIST canvases); output a tuple of
  ``num_tasks`` logits arrays ``[batch, num_classes]``.

  Attributes:
    num_tasks: number of task heads.
    num_classes: classes per task.
    relu_after_fc: ParetoMTL's variant puts a ReLU after the 50-unit layer; PHN's
      does not.
    conv_impl: ``'xla'``, ``'patches'``, ``'batch_minor'`` or ``'auto'`` (batch-minor
      patches on CPU, XLA's convolution on accelerators; same parameters and values; see
      :mod:`hyperjax.targets.conv`).
  """

  num_tasks: int = 2
  num_classes: int = 10
  relu_after_fc: bool = False
  conv_impl: str = "xla"

  @nn.compact
  def __call__(self, x: jax.Array) -> tuple[jax.Array, ...]:
    x = Conv2D(10, 9, self.conv_impl, name="Conv_0")(to_layout(x, self.conv_impl))
    x = max_pool2(nn.relu(x), self.conv_impl)
    x = Conv2D(20, 5, self.conv_impl, name="Conv_1")(x)
    x = from_layout(max_pool2(nn.relu(x), self.conv_impl), self.conv_impl)
    x = x.reshape(x.shape[0], -1)
    x = nn.Dense(50)(x)
    if self.relu_after_fc:
      x = nn.relu(x)
    return tuple(nn.Dense(self.num_classes, name=f"head_{t}")(x)
                 for t in range(self.num_tasks))


def phn_lenet(num_tasks: int = 2, num_classes: int = 10, conv_impl: str = "xla") -> MultiTaskLeNet:
  """PHN's LeNet (no ReLU after the 50-unit layer): 31,910 parameters for 2 tasks."""
  return MultiTaskLeNet(num_tasks=num_tasks, num_classes=num_classes, relu_after_fc=False,
                        conv_impl=conv_impl)


def paretomtl_lenet(num_tasks: int = 2, num_classes: int = 10, conv_impl: str = "xla"
                    ) -> MultiTaskLeNet:
  """ParetoMTL's baseline LeNet (ReLU after the 50-unit layer)."""
  return MultiTaskLeNet(num_tasks=num_tasks, num_classes=num_classes, relu_after_fc=True,
                        conv_impl=conv_impl)
