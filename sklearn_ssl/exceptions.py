"""Warnings that sklearn_ssl's estimators emit about semi-supervised learning itself.

Each has its own class, so that it can be caught, counted or silenced on its own::

    import warnings
    from sklearn_ssl.exceptions import ClassShareDriftWarning

    warnings.filterwarnings("ignore", category=ClassShareDriftWarning)
"""

__all__ = ["ClassShareDriftWarning", "SupervisedFallbackWarning", "UnreachedRowsWarning"]


class SupervisedFallbackWarning(UserWarning):
    """The semi-supervised estimator did not beat its supervised counterpart.

    :class:`~sklearn_ssl.SafeSemiSupervisedClassifier` emits it when
    cross-validation on the labelled rows gives no evidence that learning from the
    unlabelled rows helps, and it predicts with the supervised model instead
    (``selected_ == "supervised"``).
    """


class ClassShareDriftWarning(UserWarning):
    """The labels given to unlabelled rows are far from the labelled class shares.

    Emitted after ``fit`` when some class's share among the (pseudo-)labels of the
    unlabelled rows is a small fraction of its share among the labelled rows
    (``class_share_ratio_`` below the estimator's limit). It is how a collapse
    shows: self-training or propagation that gives every unlabelled row the
    majority class, which accuracy alone may not reveal. It is expected when the
    labelled rows were not drawn at random from the data (the same number per
    class from imbalanced data, say).
    """


class UnreachedRowsWarning(UserWarning):
    """Some rows received no label: no labelled row reaches them.

    Their graph component holds no labelled row, or they are more than
    ``max_iter`` steps from one. They get ``class_prior_`` and are flagged in
    ``unreached_``. To silence it:
    ``warnings.filterwarnings("ignore", category=UnreachedRowsWarning)``.
    """
