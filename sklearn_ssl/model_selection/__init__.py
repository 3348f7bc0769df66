"""Model selection for semi-supervised data."""

from ._split import LabeledStratifiedKFold

__all__ = ["LabeledStratifiedKFold"]
