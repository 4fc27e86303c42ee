"""Run outputs: ``metrics.jsonl``, TensorBoard events, ``results.json``, progress bar."""

from __future__ import annotations

import json
import math
import os
from typing import Any, Mapping

import numpy as np


def to_jsonable(value: Any) -> Any:
  """NumPy / JAX scalars and arrays -> plain Python (NaN/inf kept as strings)."""
  if isinstance(value, Mapping):
    return {str(k): to_jsonable(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [to_jsonable(v) for v in value]
  if hasattr(value, "tolist"):
    return to_jsonable(np.asarray(value).tolist())
  if isinstance(value, float) and not math.isfinite(value):
    return str(value)
  return value


class MetricsWriter:
  """Appends one JSON object per record to ``metrics.jsonl`` and mirrors scalars to TensorBoard.

  On resume, records after the restored step are dropped first (they came from the
  part of the killed run that is about to be replayed), so the file ends up exactly
  as an uninterrupted run would have written it.
  """

  def __init__(self, workdir: str, resume_step: int | None = None, enabled: bool = True):
    self.enabled = enabled
    self.path = os.path.join(workdir, "metrics.jsonl")
    self._tb = None
    if not enabled:
      return
    if resume_step is not None and os.path.exists(self.path):
      with open(self.path) as f:
        kept = [line for line in f if line.strip() and json.loads(line).get("step", 0) <= resume_step]
      with open(self.path, "w") as f:
        f.writelines(kept)
    elif resume_step is None and os.path.exists(self.path):
      os.replace(self.path, self.path + ".previous")
    try:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
      self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))
    except ImportError:  # TensorBoard is optional.
      self._tb = None

  def write(self, step: int, kind: str, values: Mapping[str, Any]) -> None:
    if not self.enabled:
      return
    record = {"step": int(step), "kind": kind, **to_jsonable(dict(values))}
    with open(self.path, "a") as f:
      f.write(json.dumps(record) + "\n")
    if self._tb is not None:
      for key, value in values.items():
        if np.ndim(value) == 0:
          self._tb.add_scalar(f"{kind}/{key}", float(value), step)
      self._tb.flush()

  def text(self, tag: str, payload: Mapping[str, Any], step: int | None = None) -> None:
    """A JSON record as text in TensorBoard (the run's config, versions, devices)."""
    if self._tb is not None:
      self._tb.add_text(tag, "```\n" + json.dumps(to_jsonable(dict(payload)), indent=2)
                        + "\n```", step or 0)
      self._tb.flush()

  def image(self, tag: str, path: str, step: int) -> None:
    """A PNG file (e.g. the front plot) as a TensorBoard image at ``step``."""
    if self._tb is None or not os.path.exists(path):
      return
    import matplotlib.image  # pylint: disable=g-import-not-at-top
    picture = matplotlib.image.imread(path)
    self._tb.add_image(tag, picture[..., :3], step, dataformats="HWC")
    self._tb.flush()

  def close(self) -> None:
    if self._tb is not None:
      self._tb.close()


def write_json(path: str, payload: Mapping[str, Any]) -> None:
  """Writes JSON atomically (a temporary file renamed over the target)."""
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(to_jsonable(dict(payload)), f, indent=2, sort_keys=True)
  os.replace(tmp, path)
