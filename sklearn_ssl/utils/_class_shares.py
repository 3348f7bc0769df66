"""A cheap signal that semi-supervised learning went wrong: class shares that drift.

When self-training or propagation gives the unlabelled rows labels whose class
shares are far from those of the labelled rows, the usual cause is a collapse:
the model's early bias towards one class feeds on itself until a class all but
disappears. Accuracy may barely move on imbalanced data; balanced accuracy
falls to chance. Comparing the shares needs no held-out data, so every
estimator checks it after ``fit``.
"""

import warnings

import numpy as np

from ..exceptions import ClassShareDriftWarning

SHARE_RATIO_LIMIT = 0.25
"""Warn when a class's share among the unlabelled rows' labels falls below this
fraction of its share among the labelled rows."""

MIN_EXPECTED_ROWS = 10
"""...and that class would have been given at least this many rows at its labelled
share: fewer rows are too little evidence to tell drift from chance."""


def class_share_ratio(labeled_counts, predicted_counts):
    """Smallest ratio of a class's share among predictions to its labelled share.

    Parameters
    ----------
    labeled_counts : array-like of shape (n_classes,)
        Labelled rows (or their total weight) per class.
    predicted_counts : array-like of shape (n_classes,)
        Unlabelled rows given each class.

    Returns
    -------
    ratio : float in [0, 1]
        ``min_k q_k / p_k`` over the classes with labelled rows, where ``p`` and
        ``q`` are the labelled and the predicted shares: 1 when the shares are
        equal, 0 when a labelled class is never predicted. 1 when nothing was
        predicted.

    Examples
    --------
    >>> from sklearn_ssl.utils import class_share_ratio
    >>> class_share_ratio([50, 50], [90, 10])
    0.2
    """
    p = np.asarray(labeled_counts, dtype=float)
    q = np.asarray(predicted_counts, dtype=float)
    if q.sum() <= 0 or p.sum() <= 0:
        return 1.0
    p, q = p / p.sum(), q / q.sum()
    present = p > 0
    return float(min(1.0, np.min(q[present] / p[present])))


def check_class_shares(estimator, labeled_counts, predicted_counts, *, what):
    """Return the share ratio and warn (:class:`ClassShareDriftWarning`) when it is small.

    ``what`` names the labels compared, for the message ("the pseudo-labels").
    """
    ratio = class_share_ratio(labeled_counts, predicted_counts)
    p = np.asarray(labeled_counts, dtype=float)
    q = np.asarray(predicted_counts, dtype=float)
    if ratio >= SHARE_RATIO_LIMIT or q.sum() <= 0:
        return ratio
    p_share, q_share = p / p.sum(), q / q.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(p_share > 0, q_share / p_share, np.inf)
    k = int(np.argmin(ratios))
    if p_share[k] * q.sum() < MIN_EXPECTED_ROWS:
        return ratio
    label = np.asarray(getattr(estimator, "classes_", np.arange(p.shape[0]))).tolist()[k]
    warnings.warn(
        f"{type(estimator).__name__}: class {label!r} makes up {100 * p_share[k]:.1f}% "
        f"of the labelled rows but {100 * q_share[k]:.1f}% of {what} "
        f"(class_share_ratio_={ratio:.2f}). Semi-supervised learning may have collapsed "
        "towards the other classes; check balanced accuracy, or compare with a supervised "
        "model using sklearn_ssl.SafeSemiSupervisedClassifier. This is expected if the "
        "labelled rows were not drawn at random (e.g. the same number per class).",
        ClassShareDriftWarning,
    )
    return ratio
