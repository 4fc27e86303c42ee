"""Sparse layers: static connectivity, trainable values, one backend switch.

Reference: Cubelier, "Sparse hypernetworks", MSc thesis, University of Liege, 2022.
"""

from hyperjax.sparse.connectivity import (DISTRIBUTIONS, SCHEDULES, layer_widths, make_indices,
                                          schedule)
from hyperjax.sparse.layers import SparseLinear
from hyperjax.sparse.ops import BACKENDS, dense_matrix, sparse_matmul

__all__ = ["BACKENDS", "DISTRIBUTIONS", "SCHEDULES", "SparseLinear", "dense_matrix",
           "layer_widths", "make_indices", "schedule", "sparse_matmul"]
