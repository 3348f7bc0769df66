"""The one place that owns the unlabelled marker ``-1``.

Every estimator of sklearn_ssl reads ``y`` through :func:`check_semi_supervised_y`,
so the rules below hold everywhere:

* ``y == -1`` marks an unlabelled row. For numeric ``y`` that is the value ``-1``
  (``-1.0`` for floats); for ``object`` ``y`` it is the integer ``-1``.
* Labels may be integers, floats or strings. A string array (``dtype.kind == "U"``)
  cannot hold the integer marker: a ``"-1"`` inside it is almost always an
  accident of ``np.array(["cat", -1])``, so it is refused with a message that
  says how to build ``y``.
* ``classes_`` never contains the marker.
* ``y`` is never modified.
"""

import numbers

import numpy as np
from sklearn.utils._missing import is_pandas_na, is_scalar_nan
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import column_or_1d

UNLABELED = -1
"""The value that marks an unlabelled row in ``y``."""


def _is_marker(value):
    # ``True == 1`` in Python, so booleans are excluded explicitly.
    return (
        isinstance(value, numbers.Number | np.number)
        and not isinstance(value, bool | np.bool_)
        and value == UNLABELED
    )


def check_labeled_targets(y_labeled):
    """scikit-learn's ``check_classification_targets`` on the labelled rows.

    Without its warning that more than half of the rows are distinct classes (a
    regression target?): with one or two labels per class, which is what
    semi-supervised learning is for, that is the normal case.
    """
    # type_of_target's test, without catch_warnings (process-wide, not thread-safe).
    y_type = type_of_target(y_labeled, input_name="y")
    if y_type not in ("binary", "multiclass", "multiclass-multioutput", "multilabel-indicator"):
        raise ValueError(
            f"Unknown label type: {y_type}. Maybe you are trying to fit a classifier, which "
            "expects discrete classes, on a regression target with continuous values."
        )


def _as_array(y):
    """``np.asarray`` that keeps a list's integer ``-1`` beside string labels.

    ``np.asarray(["cat", -1])`` would turn the marker into the string ``"-1"``;
    for Python sequences the user's ``-1`` is unambiguous, so they become an
    ``object`` array when they hold strings.
    """
    if not hasattr(y, "dtype") and not hasattr(y, "__array__"):
        y = list(y)
        if any(isinstance(v, str) for v in y):
            return np.asarray(y, dtype=object)
        arr = np.asarray(y)
        if arr.dtype.kind == "f" and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in y
        ):
            # Integers beyond int64 beside -1 would be rounded as float64 (merging
            # labels): keep them as objects, which _check_marker turns into a clear error.
            return np.asarray(y, dtype=object)
        return arr
    return np.asarray(y)


def _is_missing(value):
    """None, NaN (any float type) or pandas' NA (nullable Int64 or string columns)."""
    return value is None or is_scalar_nan(value) or is_pandas_na(value)


def _has_missing(y):
    """Whether the array ``y`` holds None, NaN or pandas' NA."""
    if y.dtype.kind == "f":
        return bool(np.isnan(y).any())
    return y.dtype.kind == "O" and any(_is_missing(v) for v in y)


def _check_marker(y):
    """``y`` (an array) in a form where the integer ``-1`` marks the unlabelled rows.

    Numbers in an object array (``y.astype(object)``, a pandas object column) become
    a numeric array again, whose target type scikit-learn can tell. A string array
    holding ``'-1'`` and no integer ``-1`` is refused: pandas reads a CSV label column
    so, and ``'-1'`` would become a class while no row is unlabelled.
    """
    if y.dtype.kind in "US":
        if np.any(y == "-1") or np.any(y == b"-1"):
            raise ValueError(
                "y is an array of strings that contains '-1'. The unlabelled marker must be "
                "the integer -1, which a string array cannot hold (np.array(['cat', -1]) turns "
                "-1 into the string '-1'). Build y with dtype=object, e.g. "
                "np.array(['cat', -1], dtype=object), or encode the labels as integers."
            )
    if y.dtype.kind != "O" or not y.size:
        return y
    if all(isinstance(v, numbers.Real) and not isinstance(v, bool | np.bool_) for v in y):
        if all(isinstance(v, numbers.Integral) for v in y):
            try:  # not np.array(tolist()): uint64 beside -1 would become float64
                return np.array([int(v) for v in y], dtype=np.int64)
            except OverflowError:
                # Integers beyond int64 beside -1: float64 would round them, merging
                # classes, and scikit-learn cannot classify them as objects.
                raise ValueError(
                    "y holds integer labels too large for int64 beside the -1 marker. "
                    "Encode them first, e.g. with sklearn.preprocessing.LabelEncoder on "
                    "the labelled rows."
                ) from None
        return np.array(y.tolist())
    if not any(_is_marker(v) for v in y) and any(isinstance(v, str) and v == "-1" for v in y):
        raise ValueError(
            "y holds strings, one of which is '-1', and no integer -1. The unlabelled "
            "marker must be the integer -1; a string column (e.g. read by pandas from a "
            "CSV file) turns it into the string '-1'. Replace it: "
            "y = y.astype(object).where(y != '-1', -1) for a pandas Series, or "
            "y[y == '-1'] = -1 on an object array."
        )
    return y


def is_labeled(y):
    """Return a boolean mask, True where ``y`` holds a label (not ``-1``).

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Target with ``-1`` for unlabelled rows.

    Returns
    -------
    mask : ndarray of shape (n_samples,), dtype=bool
        ``True`` for labelled rows.

    Examples
    --------
    >>> from sklearn_ssl.utils import is_labeled
    >>> is_labeled([0, -1, 2, -1]).tolist()
    [True, False, True, False]
    """
    y = _as_array(y)
    if y.ndim != 1:
        y = column_or_1d(y, warn=True)
    if y.dtype.kind in "iuf":
        return y != UNLABELED
    if y.dtype.kind == "b":
        return np.ones(y.shape[0], dtype=bool)
    if y.dtype.kind == "O":
        return np.fromiter((not _is_marker(v) for v in y), dtype=bool, count=y.shape[0])
    # Strings and other kinds cannot hold the integer marker.
    return np.ones(y.shape[0], dtype=bool)


def check_semi_supervised_y(y, *, allow_single_class=False, allow_all_labeled=True):
    """Validate a semi-supervised target and split it into its parts.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Target with ``-1`` for unlabelled rows. pandas Series are accepted.
    allow_single_class : bool, default=False
        Whether a single labelled class is acceptable. Estimators that cannot
        learn from one class leave this False and the user gets a clear error.
    allow_all_labeled : bool, default=True
        Whether a ``y`` without any unlabelled row is acceptable.

    Returns
    -------
    y : ndarray of shape (n_samples,)
        ``y`` as a 1-d array (a new array; the input is never modified).
    labeled : ndarray of shape (n_samples,), dtype=bool
        ``True`` for labelled rows.
    classes : ndarray of shape (n_classes,)
        Sorted labels seen on labelled rows; never contains the marker.
    y_encoded : ndarray of shape (n_samples,), dtype=int64
        Index into ``classes`` for labelled rows, ``-1`` for unlabelled ones.

    Raises
    ------
    ValueError
        If ``y`` has no labelled row, only one labelled class (unless allowed),
        missing values, or is a string array that contains ``"-1"``.

    Examples
    --------
    >>> from sklearn_ssl.utils import check_semi_supervised_y
    >>> y, labeled, classes, y_enc = check_semi_supervised_y(["b", "a", -1, "b"])
    >>> classes.tolist(), y_enc.tolist()
    (['a', 'b'], [1, 0, -1, 1])
    """
    y_arr = _as_array(y)
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        y_arr = column_or_1d(y_arr, warn=True)  # DataConversionWarning, as scikit-learn
    if y_arr.ndim != 1:
        raise ValueError(
            f"y should be a 1d array of labels with -1 for unlabelled rows, got an array "
            f"of shape {y_arr.shape} instead. Multi-output targets are not supported."
        )
    # Copy so that nothing downstream can write into the user's array.
    y_arr = np.array(y_arr, copy=True)
    if y_arr.shape[0] == 0:
        raise ValueError("y is empty: at least one labelled row is needed to fit.")

    if _has_missing(y_arr):
        raise ValueError(
            "y contains None or NaN. Mark unlabelled rows with the integer -1 instead: "
            "y[np.isnan(y)] = -1 for a float y."
        )
    y_arr = _check_marker(y_arr)
    labeled = is_labeled(y_arr)
    n_labeled = int(labeled.sum())
    if n_labeled == 0:
        raise ValueError(
            "y has no labelled row: every entry is -1. Semi-supervised estimators need at "
            "least one labelled row per class; label some rows and mark only the others with -1."
        )
    if not allow_all_labeled and n_labeled == y_arr.shape[0]:
        raise ValueError("y has no unlabelled row (-1); this estimator needs some.")

    y_lab = y_arr[labeled]
    if y_arr.dtype.kind == "O":
        kinds = {isinstance(v, str) for v in y_lab}
        if len(kinds) > 1:
            raise ValueError(
                "y mixes string and non-string labels. Use one type of label; only the "
                "unlabelled marker may be the integer -1 in an object array of strings."
            )
    classes, y_lab_enc = np.unique(y_lab, return_inverse=True)
    if classes.shape[0] < 2 and not allow_single_class:
        hint = "Label at least one row of another class."
        if not labeled.all() and classes.dtype.kind in "iuf" and classes[0] == 1:
            # Labels in {-1, +1} read as one class: the -1 rows count as unlabelled.
            hint += (
                f" The {int((~labeled).sum())} row(s) of y equal to -1 were read as "
                "unlabelled; if -1 is a class (labels in {-1, +1}), encode the labels "
                "first, e.g. y = (y > 0).astype(int), and mark unlabelled rows with -1."
            )
        raise ValueError(
            f"y has only one class among its labelled rows ({classes.tolist()[0]!r}); a "
            f"classifier needs labelled rows from at least two classes. {hint}"
        )
    y_encoded = np.full(y_arr.shape[0], UNLABELED, dtype=np.int64)
    y_encoded[labeled] = y_lab_enc
    return y_arr, labeled, classes, y_encoded
