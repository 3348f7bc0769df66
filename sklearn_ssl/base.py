"""Base classes shared by every sklearn_ssl estimator.

The semi-supervised contract (``-1`` marks an unlabelled row) is owned by
:mod:`sklearn_ssl.utils._labels`; this module turns it into estimator behaviour:
validating ``fit`` input once, and scoring only on labelled rows.
"""

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_consistent_length, column_or_1d, validate_data

from .utils._labels import (
    _as_array,
    _check_marker,
    _has_missing,
    check_semi_supervised_y,
    is_labeled,
)


def _labeled_subset(X, y, sample_weight=None):
    """Return ``X``, ``y`` and ``sample_weight`` restricted to labelled rows."""
    y = _as_array(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y)  # a one-column frame, as fit takes it
    if y.ndim == 1:
        if _has_missing(y):
            raise ValueError(
                "y contains None or NaN, which score cannot compare with predictions. "
                "Mark unlabelled rows with the integer -1 instead."
            )
        y = _check_marker(y)  # as fit reads it: object numbers, '-1' strings
    check_consistent_length(X, y, sample_weight)
    mask = is_labeled(y)
    if not mask.any():
        raise ValueError(
            "y has no labelled row (all entries are -1), so there is nothing to score. "
            "Score on data that has at least one labelled row."
        )
    sw = None if sample_weight is None else np.asarray(sample_weight)[mask]
    if sparse.issparse(X) and X.format not in ("csr", "csc"):
        X = X.tocsr()  # coo, dia, bsr: no row indexing; predict converts them anyway
    return _safe_indexing(X, np.flatnonzero(mask)), y[mask], sw


class SemiSupervisedClassifierMixin(ClassifierMixin):
    """Mixin for semi-supervised classifiers: ``score`` ignores unlabelled rows.

    ``GridSearchCV`` and ``cross_val_score`` call ``estimator.score`` when no
    ``scoring`` is given. scikit-learn's own semi-supervised estimators count the
    ``-1`` rows as a class there, so a model that is 94% accurate can score 0.10.
    Here ``score(X, y)`` is the accuracy on the rows of ``y`` that are not ``-1``.
    """

    def score(self, X, y, sample_weight=None):
        """Return the accuracy on the labelled rows of ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test samples.
        y : array-like of shape (n_samples,)
            True labels, with ``-1`` for rows that are not scored.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            Mean accuracy of ``self.predict(X)`` on the labelled rows.
        """
        X_l, y_l, sw = _labeled_subset(X, y, sample_weight)
        return accuracy_score(y_l, self.predict(X_l), sample_weight=sw)


class BaseSemiSupervisedClassifier(SemiSupervisedClassifierMixin, BaseEstimator):
    """Base class for classifiers that learn from ``y`` with ``-1`` rows.

    Subclasses call :meth:`_validate_semi_supervised` at the start of ``fit``;
    it validates ``X``, checks ``y`` through the shared contract and sets
    ``classes_``.
    """

    def _validate_semi_supervised(
        self, X, y, *, allow_single_class=False, reset=True, **check_params
    ):
        """Validate ``(X, y)`` for ``fit``.

        Returns
        -------
        X : validated X
        y : ndarray, a copy of y
        labeled : bool mask of labelled rows
        y_encoded : int array, class index or -1
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None. "
                "Pass y with -1 for unlabelled rows."
            )
        X = validate_data(self, X, reset=reset, **check_params)
        y_arr = _as_array(y)
        if y_arr.ndim == 2 and y_arr.shape[1] != 1:
            raise ValueError(
                f"y should be a 1d array, got an array of shape {y_arr.shape} instead."
            )
        check_consistent_length(X, y_arr)
        y_arr, labeled, classes, y_encoded = check_semi_supervised_y(
            y_arr, allow_single_class=allow_single_class
        )
        self.classes_ = classes
        return X, y_arr, labeled, y_encoded
