"""Linear semi-supervised classifiers."""

from ._entropy_logistic import EntropyRegularizedLogisticRegression

__all__ = ["EntropyRegularizedLogisticRegression"]
