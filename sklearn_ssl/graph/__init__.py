"""Graph-based semi-supervised classifiers.

LabelPropagation and LabelSpreading propagate labels over a sparse kNN graph
(exact or approximate neighbours, or a precomputed affinity);
LocalLabelPropagation votes with density-weighted labelled neighbours in
O(N M) and scales to millions of rows.
"""

from ._base import UnreachedRowsWarning
from ._label_propagation import LabelPropagation
from ._label_spreading import LabelSpreading
from ._local_label_propagation import LocalLabelPropagation

__all__ = [
    "LabelPropagation",
    "LabelSpreading",
    "LocalLabelPropagation",
    "UnreachedRowsWarning",
]
