"""Make a semi-supervised target by hiding labels."""

import numbers

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import column_or_1d

from ..utils._labels import UNLABELED, _has_missing, is_labeled


def hide_labels(
    y, *, n_labeled=None, n_per_class=None, stratify=True, random_state=None, return_mask=False
):
    """Return a copy of ``y`` with all but a chosen subset of labels set to ``-1``.

    Exactly one of ``n_labeled`` and ``n_per_class`` must be given.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Fully labelled target (ints, floats or strings). It is not modified.
    n_labeled : int or float, default=None
        Rows that keep their label: a count (int >= 1) or a fraction of the rows
        (float in (0, 1]).
    n_per_class : int, default=None
        Rows that keep their label in each class (class-balanced). A class with
        fewer rows keeps them all.
    stratify : bool, default=True
        With ``n_labeled``, keep the class proportions of ``y`` among the kept
        rows, with at least one row per class when the budget allows.
    random_state : int, RandomState instance or None, default=None
        Controls which rows keep their label.
    return_mask : bool, default=False
        Also return the boolean mask of rows that kept their label.

    Returns
    -------
    y_ssl : ndarray of shape (n_samples,)
        ``y`` with hidden labels replaced by ``-1``. String labels come back as
        an ``object`` array (a string array cannot hold the integer ``-1``);
        unsigned integers come back as ``int64`` (labels above 2**63 - 1, which
        ``int64`` cannot hold, are refused: encode them first).
    labeled : ndarray of shape (n_samples,), dtype=bool
        Only when ``return_mask=True``.

    Examples
    --------
    >>> from sklearn_ssl.datasets import hide_labels
    >>> y = [0, 0, 0, 1, 1, 1]
    >>> hide_labels(y, n_per_class=1, random_state=0)
    array([-1, -1,  0, -1, -1,  1])
    """
    y = column_or_1d(np.asarray(y), warn=True)
    if y.shape[0] == 0:
        raise ValueError("y is empty.")
    if _has_missing(y):
        raise ValueError(
            "y contains missing values (NaN, None or NA); hide_labels needs a label per row."
        )
    if not is_labeled(y).all():
        raise ValueError(
            "y already contains -1, which sklearn_ssl reads as the unlabelled marker; "
            "hide_labels expects a fully labelled y. If -1 is a class (labels in {-1, +1}), "
            "encode the labels first, e.g. y = LabelEncoder().fit_transform(y) or (y > 0)."
        )
    if y.dtype.kind == "u" and y.size and y.max() > np.iinfo(np.int64).max:
        # No estimator could take them beside -1 (see utils._labels._check_marker).
        raise ValueError(
            "y holds integer labels too large for int64 beside the -1 marker. Encode "
            "them first, e.g. y = sklearn.preprocessing.LabelEncoder().fit_transform(y)."
        )
    if (n_labeled is None) == (n_per_class is None):
        raise ValueError("Give exactly one of n_labeled and n_per_class.")
    if y.dtype == object and len({isinstance(v, str) for v in y}) > 1:
        raise ValueError(
            "y mixes string and non-string labels, which cannot be sorted into classes. "
            "Use one type of label (e.g. y.astype(str))."
        )
    rng = check_random_state(random_state)
    classes, y_idx = np.unique(y, return_inverse=True)
    n = y.shape[0]
    keep = np.zeros(n, dtype=bool)

    if n_per_class is not None:
        if not isinstance(n_per_class, numbers.Integral) or n_per_class < 1:
            raise ValueError(f"n_per_class must be an integer >= 1, got {n_per_class!r}.")
        for k in range(classes.shape[0]):
            rows = np.flatnonzero(y_idx == k)
            keep[rng.choice(rows, size=min(n_per_class, rows.shape[0]), replace=False)] = True
    else:
        if isinstance(n_labeled, numbers.Integral) and not isinstance(n_labeled, bool):
            if not 1 <= n_labeled <= n:
                raise ValueError(f"n_labeled must be in [1, {n}] as a count, got {n_labeled}.")
            total = int(n_labeled)
        elif (
            isinstance(n_labeled, numbers.Real)
            and not isinstance(n_labeled, bool)
            and (0 < n_labeled <= 1)
        ):
            total = max(1, int(round(n_labeled * n)))
        else:
            raise ValueError(
                f"n_labeled must be an int count >= 1 or a float fraction in (0, 1], "
                f"got {n_labeled!r}."
            )
        if stratify:
            counts = np.bincount(y_idx)
            quota = _allocate(counts, total)
            for k in range(classes.shape[0]):
                rows = np.flatnonzero(y_idx == k)
                keep[rng.choice(rows, size=quota[k], replace=False)] = True
        else:
            keep[rng.choice(n, size=total, replace=False)] = True

    if y.dtype.kind in "US":
        out = y.astype(object)
    elif y.dtype.kind in "ub":
        out = y.astype(np.int64)
    else:
        out = y.copy()
    out[~keep] = UNLABELED
    return (out, keep) if return_mask else out


def _allocate(counts, total):
    """Split ``total`` over classes in proportion to ``counts`` (largest remainder),
    then make sure each class gets at least one row when ``total`` allows it."""
    counts = np.asarray(counts, dtype=float)
    share = counts / counts.sum() * total
    quota = np.floor(share).astype(int)
    order = np.argsort(-(share - quota), kind="stable")
    quota[order[: total - quota.sum()]] += 1
    if total >= counts.shape[0]:
        for k in np.flatnonzero(quota == 0):
            quota[np.argmax(quota)] -= 1
            quota[k] = 1
    return np.minimum(quota, np.ceil(counts).astype(int))
