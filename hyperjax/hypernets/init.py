"""Initialisation of hypernetworks: the plain default and hyperfan-in / hyperfan-out.

Reference:
  Chang, Flokas, Lipson. "Principled Weight Initialization for Hypernetworks",
  ICLR 2020. With ``c`` the input of the hypernetwork's last layer (``d_k`` dims) and
  a target layer of fan-in ``d_j`` and fan-out ``d_i``:

  * hyperfan-in: ``Var(W) = 1 / d_j`` (halved when the layer also has a generated
    bias), generated bias ``Var(b) = 1/2``;
  * hyperfan-out: ``Var(W) = 1 / d_i``, generated bias
    ``Var(b) = max(0, 1 - d_j / d_i)``;

  times a gain ``scale`` (2 for ReLU targets: He; 1: LeCun / Glorot-style). The
  hypernetwork's head weights then get ``Var(H) = Var(W) / (d_k E[c^2])``. We measure
  ``d_k E[c^2] = E[||c||^2]`` (the squared norm, which is what the product ``H c``
  needs) on sample conditions at initialisation instead of assuming a distribution
  for them; a family without hidden layers (the linear hypernetwork) reads ``c`` as
  the embedding itself.

  Biases of modules without a kernel (normalisation shifts) and ``scale`` leaves are
  generated with zero variance, i.e. exactly the plain target's init (0 and 1).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from hyperjax.spec import WeightSpec

INITS = ("default", "hyperfan_in", "hyperfan_out", "torch_default")
# Multiplier of leaves whose hyperfan variance is 0 (norm scales and shifts) in families
# with fixed per-leaf output multipliers: small, so they start at the plain init, but not
# 0, which would freeze them.
ZERO_VARIANCE_MULTIPLIER = 1e-2


def output_multipliers(variances, raw_second_moment=1.0) -> tuple[float, ...]:
  """Fixed per-leaf multipliers giving generated leaf ``i`` the variance ``variances[i]``
  when the raw outputs have second moment ``raw_second_moment`` (one number, or one per
  leaf) (chunked and sparse families; see :data:`ZERO_VARIANCE_MULTIPLIER`)."""
  moments = np.broadcast_to(np.asarray(raw_second_moment, np.float64), (len(variances),))
  return tuple(float((v / m) ** 0.5) if v > 0 and m > 0 else ZERO_VARIANCE_MULTIPLIER
               for v, m in zip(variances, moments))


def plain_leaf_init(leaf):
  """The plain target's own initialiser for ``leaf`` (Flax's defaults): LeCun normal
  (``Var = 1 / fan_in``) for kernels and embeddings, 0 for biases and shifts, 1 for
  normalisation scales. Takes any shape ending in ``leaf.shape`` (leading axes: copies)."""
  stddev = float(np.sqrt(1.0 / leaf.fan_in)) if leaf.kind in ("kernel", "embedding", "other") \
      else 0.0
  base = 1.0 if leaf.kind == "scale" else 0.0

  def init(key, shape, dtype=jnp.float32):
    if stddev == 0.0:
      return jnp.full(shape, base, dtype)
    return stddev * jax.random.normal(key, shape, dtype)
  return init


def target_variances(spec: WeightSpec, mode: str, scale: float = 1.0,
                     bias_variance: float | None = None) -> list[float]:
  """The variance hyperfan-``mode`` gives each generated leaf.

  Args:
    spec: the target's weight spec.
    mode: ``'fan_in'`` or ``'fan_out'``.
    scale: gain (2.0 = He for ReLU targets).
    bias_variance: None for the paper's bias rule (see the module docstring), or the
      variance of every generated bias, as is (no gain, no halving of the kernels):
      ``0.0`` starts biases at the plain target's zero. Chang et al.'s ``Var(b) = 1/2``
      assumes unit-variance layer inputs; in a deep ReLU CNN on raw pixels the biases
      then dominate the pre-activations and the generated network starts close to a
      constant function (the ordered phase of Poole et al. 2016's mean-field analysis).

  Returns:
    One variance per leaf, in spec order.
  """
  if mode not in ("fan_in", "fan_out"):
    raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}.")
  if bias_variance is not None and not bias_variance >= 0:
    raise ValueError(f"bias_variance must be None or >= 0, got {bias_variance!r}.")
  kernels = {l.module_path: l for l in spec.leaves if l.kind == "kernel"}
  has_bias = {l.module_path for l in spec.leaves if l.kind == "bias"}
  variances = []
  for leaf in spec.leaves:
    kernel = kernels.get(leaf.module_path)
    if leaf.kind in ("kernel", "embedding", "other"):
      if mode == "fan_in":
        halve = leaf.kind == "kernel" and leaf.module_path in has_bias and bias_variance is None
        var = scale / (leaf.fan_in * (2 if halve else 1))
      else:
        var = scale / leaf.fan_out
    elif leaf.kind == "bias" and kernel is not None and bias_variance is not None:
      var = float(bias_variance)
    elif leaf.kind == "bias" and kernel is not None:
      var = scale / 2 if mode == "fan_in" else scale * max(0.0, 1 - kernel.fan_in / kernel.fan_out)
    else:  # scale leaves and normalisation shifts: the plain init, exactly.
      var = 0.0
    variances.append(var)
  return variances


def torch_default_init(variables: Any, rng: jax.Array) -> Any:
  """PyTorch's default initialisation of the same layers, to compare recipes exactly.

  Every dense kernel ``[fan_in, ..., fan_out]`` and its bias are drawn from
  ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (``nn.Linear`` / ``nn.Conv*``'s
  ``kaiming_uniform_(a=sqrt(5))`` and bias rule), embedding tables from ``N(0, 1)``
  (``nn.Embedding``); every other leaf (normalisation scales and shifts, chunk matrices)
  keeps its Flax initialisation. The PyTorch PHN code relies on these defaults for its
  hypernetwork.
  """
  counter = iter(range(1 << 30))

  def walk(tree):
    if not isinstance(tree, dict):
      return tree
    out = dict(tree)
    if "kernel" in tree and np.ndim(tree["kernel"]) >= 2:
      kernel = tree["kernel"]
      bound = 1.0 / np.sqrt(np.prod(kernel.shape[:-1]))
      for name in ("kernel", "bias"):
        if name in tree:
          key = jax.random.fold_in(rng, next(counter))
          out[name] = jax.random.uniform(key, tree[name].shape, tree[name].dtype, -bound, bound)
    elif "embedding" in tree and np.ndim(tree["embedding"]) == 2:
      key = jax.random.fold_in(rng, next(counter))
      out["embedding"] = jax.random.normal(key, tree["embedding"].shape, tree["embedding"].dtype)
    for name, value in tree.items():
      if isinstance(value, dict):
        out[name] = walk(value)
    return out

  return walk(variables)


def init_hypernet(module: nn.Module, rng: jax.Array, sample_conds: Any, init: str = "default",
                  scale: float = 1.0, bias_variance: float | None = None) -> tuple[nn.Module, Any]:
  """Initialises a hypernetwork family module (MLP or chunked).

  Args:
    module: an :class:`MLPHypernet` or :class:`ChunkedHypernet` (or any module with
      ``features`` and ``hyperfan_attributes``).
    rng: PRNG key.
    sample_conds: a batch of conditions ``[n, ...]`` (pytree with a leading axis), e.g.
      rays drawn from the training distribution; the first one shapes the params,
      all of them estimate ``E[c^2]`` for hyperfan init.
    init: ``'default'`` (Flax's), ``'hyperfan_in'``, ``'hyperfan_out'`` or
      ``'torch_default'`` (PyTorch's defaults, :func:`torch_default_init`).
    scale: hyperfan gain (2.0 for ReLU targets).
    bias_variance: hyperfan only: the generated biases' variance instead of the
      paper's rule (:func:`target_variances`).

  Returns:
    ``(module, variables)``: the module to apply (hyperfan init may set attributes
    such as fixed output scales) and its variables ``{'params': ...}``.
  """
  if init not in INITS:
    raise ValueError(f"Unknown hypernetwork init {init!r}; choose one of {', '.join(INITS)}.")
  first = jax.tree.map(lambda x: x[0], sample_conds)
  variables = module.init(rng, first)
  if init == "default":
    return module, variables
  if init == "torch_default":
    return module, torch_default_init(variables, jax.random.fold_in(rng, 1))
  if not hasattr(module, "hyperfan_attributes"):
    raise ValueError(f"{type(module).__name__} has no hyperfan initialisation; set the "
                     "hypernetwork's init to 'default'.")
  if hasattr(module, "raw_outputs"):
    # Families with fixed output multipliers on shared raw outputs (sparse): measure the
    # raw second moment of each leaf's own slice, which a global E[c^2] only approximates.
    raw = jnp.asarray(jax.vmap(lambda c: module.apply(variables, c, method="raw_outputs"))(
        sample_conds))
    moment = [float(jnp.mean(jnp.square(raw[:, l.offset:l.offset + l.size])))
              for l in module.spec.leaves]
  else:
    # E[||c||^2] of the last layer's input c (MLP and chunked families).
    features = jnp.asarray(jax.vmap(lambda c: module.apply(variables, c, method="features"))(
        sample_conds))
    moment = float(jnp.mean(jnp.sum(jnp.square(features), axis=-1)))
  if not np.all(np.asarray(moment) > 0):
    raise ValueError("The hypernetwork's last hidden layer is all zeros on the sample "
                     "conditions; hyperfan init needs non-degenerate conditions.")
  variances = target_variances(module.spec, "fan_" + init.removeprefix("hyperfan_"), scale,
                               bias_variance)
  rescaled = module.clone(**module.hyperfan_attributes(variances, moment))
  # Same rng and names: every parameter but the rescaled output layer is identical.
  return rescaled, rescaled.init(rng, first)
