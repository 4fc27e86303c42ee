"""Pareto-front figures."""

from __future__ import annotations

from typing import Mapping

import numpy as np


def plot_front(path: str, losses: np.ndarray, rays: np.ndarray, *, title: str = "",
               anchors: np.ndarray | None = None, hypervolume: float | None = None,
               reference_point=None, labels=None) -> None:
  """Writes the test losses of every ray, the rays as directions, and the anchors.

  For two objectives, each ray ``r`` is drawn as the line through the origin along
  ``1 / r``: the loss vectors with ``r_1 l_1 = r_2 l_2``, which is where EPO places the
  exact Pareto-optimal point of that preference. Only the first two objectives are
  plotted for more.
  """
  label = "test losses (one per ray)"
  if hypervolume is not None:
    label += f", HV {hypervolume:.4f}"
  plot_fronts(path, {label: losses}, rays, title=title, anchors=anchors,
              reference_point=reference_point, color_by_ray=True, labels=labels)


def plot_fronts(path: str, fronts: Mapping[str, np.ndarray], rays: np.ndarray, *,
                title: str = "", anchors: np.ndarray | None = None, reference_point=None,
                color_by_ray: bool = False, labels=None) -> None:
  """Several fronts (label -> losses ``[n, m]``, evaluated on the same ``rays``) in one figure.

  ``labels`` names the objectives on the axes (default: cross-entropy of task 1, 2).
  ``color_by_ray`` colours the points of a single front by the ray's first weight;
  otherwise each front has its own colour. Anchors (single-task losses) are red stars.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  default = labels is None or [str(l) for l in labels[:2]] == ["0", "1"]
  first, second = ("task 1", "task 2") if default else (f"objective {labels[0]}",
                                                        f"objective {labels[1]}")
  labels = None if default else labels
  rays = np.asarray(rays)
  all_losses = np.concatenate([np.asarray(l)[:, :2] for l in fronts.values()])
  if anchors is not None and len(anchors):
    anchors = np.asarray(anchors)
    all_losses = np.concatenate([all_losses, anchors[:, :2]])
  fig, ax = plt.subplots(figsize=(5.5, 5))
  reach = float(np.nanmax(all_losses)) * 1.15
  for r in rays:
    direction = 1.0 / np.maximum(r[:2], 1e-6)
    direction = direction / np.max(direction) * reach
    ax.plot([0, direction[0]], [0, direction[1]], color="0.8", lw=0.8, ls="--", zorder=1)
  for i, (label, losses) in enumerate(fronts.items()):
    losses = np.asarray(losses)
    color = f"C{i}"
    order = np.argsort(losses[:, 0])
    ax.plot(losses[order, 0], losses[order, 1], color=color, lw=1, zorder=2)
    if color_by_ray:
      points = ax.scatter(losses[:, 0], losses[:, 1], c=rays[:, 0], cmap="viridis", s=24,
                          zorder=3, label=label)
      fig.colorbar(points, ax=ax, label=f"ray weight on {first}")
    else:
      ax.scatter(losses[:, 0], losses[:, 1], color=color, s=18, zorder=3, label=label)
  if anchors is not None and len(anchors):
    ax.scatter(anchors[:, 0], anchors[:, 1], marker="*", s=140, color="tab:red", zorder=4,
               label="single-task anchor")
  ax.set_xlim(0, reach)
  ax.set_ylim(0, reach)
  ax.set_xlabel(f"{first} loss" + ("" if labels else " (cross-entropy)"))
  ax.set_ylabel(f"{second} loss" + ("" if labels else " (cross-entropy)"))
  if reference_point is not None:
    title = "\n".join(filter(None, [title, f"HV reference point {tuple(reference_point)}"]))
  ax.set_title(title, fontsize=10)
  ax.legend(loc="upper right", fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
