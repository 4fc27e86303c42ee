"""hyperjax: hypernetworks in JAX/Flax.

Pure functions map a condition (a preference ray, a task or layer embedding, noise) to
the weight pytree of any Flax target network. The public API is re-exported here.
"""

from hyperjax.hypernets import (INITS, PHN_RESNET18_PRESETS, ChunkedHypernet, Conditioner,
                                MLPHypernet, init_hypernet, target_variances)
from hyperjax.spec import LeafSpec, WeightSpec, spec_from_shapes, weight_spec
from hyperjax.target import Target, calibrate_state, calibrate_states
from hyperjax.targets import TARGET_NAMES, make_target, register_target
from hyperjax.version import __version__  # noqa: F401

from hyperjax import builders, pareto  # noqa: E402  (after the core: they build on it)

__all__ = [
    "ChunkedHypernet", "Conditioner", "INITS", "LeafSpec", "MLPHypernet",
    "PHN_RESNET18_PRESETS", "TARGET_NAMES", "Target", "WeightSpec", "calibrate_state",
    "builders", "calibrate_states", "init_hypernet", "make_target", "pareto", "register_target",
    "spec_from_shapes", "target_variances", "weight_spec",
]
