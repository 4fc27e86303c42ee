"""Pareto-front figures."""

from __future__ import annotations

import numpy as np


def plot_front(path: str, losses: np.ndarray, rays: np.ndarray, *, title: str = "",
               anchors: np.ndarray | None = None, hypervolume: float | None = None,
               reference_point=None) -> None:
  """Writes the test losses of every ray, the rays as directions, and the anchors.

  For two objectives, each ray ``r`` is drawn as the line through the origin along
  ``1 / r``: the loss vectors with ``r_1 l_1 = r_2 l_2``, which is where EPO places the
  exact Pareto-optimal point of that preference. Only the first two objectives are
  plotted for more.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  losses, rays = np.asarray(losses), np.asarray(rays)
  fig, ax = plt.subplots(figsize=(5.5, 5))
  reach = float(np.nanmax(losses[:, :2])) * 1.15
  for r in rays:
    direction = 1.0 / np.maximum(r[:2], 1e-6)
    direction = direction / np.max(direction) * reach
    ax.plot([0, direction[0]], [0, direction[1]], color="0.8", lw=0.8, ls="--", zorder=1)
  order = np.argsort(losses[:, 0])
  ax.plot(losses[order, 0], losses[order, 1], color="tab:blue", lw=1, zorder=2)
  points = ax.scatter(losses[:, 0], losses[:, 1], c=rays[:, 0], cmap="viridis", s=24, zorder=3,
                      label="test losses (one per ray)")
  fig.colorbar(points, ax=ax, label="ray weight on task 1")
  if anchors is not None and len(anchors):
    anchors = np.asarray(anchors)
    ax.scatter(anchors[:, 0], anchors[:, 1], marker="*", s=120, color="tab:red", zorder=4,
               label="single-task anchors")
  ax.set_xlim(0, reach)
  ax.set_ylim(0, reach)
  ax.set_xlabel("task 1 loss (cross-entropy)")
  ax.set_ylabel("task 2 loss (cross-entropy)")
  subtitle = []
  if hypervolume is not None:
    subtitle.append(f"HV {hypervolume:.4f}" + (f" (ref {tuple(reference_point)})"
                                                if reference_point is not None else ""))
  ax.set_title("\n".join(filter(None, [title, ", ".join(subtitle)])), fontsize=10)
  ax.legend(loc="upper right", fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
