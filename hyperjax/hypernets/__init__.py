"""Hypernetwork families: pure ``apply(params, cond) -> weight pytree`` of a target."""

from hyperjax.hypernets.chunked import PHN_RESNET18_PRESETS, ChunkedHypernet, default_num_chunks
from hyperjax.hypernets.conditioning import Conditioner, split_condition
from hyperjax.hypernets.factory import FAMILIES, make_hypernet, register_family
from hyperjax.hypernets.init import INITS, init_hypernet, target_variances
from hyperjax.hypernets.independent import IndependentNetworks
from hyperjax.hypernets.mlp import LinearHypernet, MLPHypernet
from hyperjax.hypernets.protocol import Hypernetwork
from hyperjax.hypernets.sparse import SparseHypernet

__all__ = [
    "ChunkedHypernet", "Conditioner", "FAMILIES", "INITS", "IndependentNetworks",
    "Hypernetwork", "LinearHypernet", "MLPHypernet", "PHN_RESNET18_PRESETS", "SparseHypernet",
    "default_num_chunks", "init_hypernet", "make_hypernet", "register_family", "split_condition",
    "target_variances",
]
