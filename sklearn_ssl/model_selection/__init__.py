"""Model selection for semi-supervised data."""

from ._safe import SafeSemiSupervisedClassifier, supervised_counterpart
from ._split import LabeledStratifiedKFold

__all__ = ["LabeledStratifiedKFold", "SafeSemiSupervisedClassifier", "supervised_counterpart"]
