"""Scorers that ignore unlabelled rows."""

import copy

from sklearn.metrics import check_scoring, get_scorer

from ..base import _labeled_subset


class LabeledScorer:
    """Wrap a scorer so that it only sees the labelled rows of ``y``.

    Use :func:`make_labeled_scorer` to build one.

    Parameters
    ----------
    scorer : callable
        A scikit-learn scorer ``scorer(estimator, X, y, **kwargs)``, or ``None``
        to call ``estimator.score``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.metrics import get_scorer
    >>> from sklearn_ssl.metrics import LabeledScorer
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> LabeledScorer(get_scorer("accuracy"))(model, X, [0, -1, -1, 1])
    1.0
    """

    def __init__(self, scorer=None):
        self.scorer = scorer

    def __call__(self, estimator, X, y, sample_weight=None, **kwargs):
        X_l, y_l, sw = _labeled_subset(X, y, sample_weight)
        if sw is not None:
            kwargs["sample_weight"] = sw
        if self.scorer is None:
            return estimator.score(X_l, y_l, **kwargs)
        return self.scorer(estimator, X_l, y_l, **kwargs)

    def get_metadata_routing(self):
        """The wrapped scorer's metadata requests (scikit-learn's metadata routing).

        With routing enabled, ``sample_weight`` reaches this scorer when the
        wrapped scorer requests it (``set_score_request(sample_weight=True)``),
        and is then restricted to the labelled rows like ``y``.
        """
        from sklearn.utils.metadata_routing import MetadataRequest, get_routing_for_object

        if self.scorer is None:  # estimator.score: requests unknown until there is one
            return MetadataRequest(owner=type(self).__name__)
        return get_routing_for_object(self.scorer)

    def set_score_request(self, **kwargs):
        """Request metadata for the wrapped scorer, as scikit-learn scorers do.

        Returns
        -------
        self : LabeledScorer
        """
        if not hasattr(self.scorer, "set_score_request"):
            what = (
                "it calls estimator.score, which is not a scorer"
                if self.scorer is None
                else "the wrapped scorer has no set_score_request"
            )
            raise TypeError(
                f"{self!r} cannot request metadata: {what}. Wrap a scikit-learn scorer, e.g. "
                "make_labeled_scorer('accuracy').set_score_request(sample_weight=True)."
            )
        # A copy: the caller's scorer (get_scorer's, say) keeps its own requests.
        self.scorer = copy.deepcopy(self.scorer).set_score_request(**kwargs)
        return self

    def __repr__(self):
        inner = "estimator.score" if self.scorer is None else repr(self.scorer)
        return f"LabeledScorer({inner})"


def make_labeled_scorer(scoring=None):
    """Turn any scikit-learn scoring into one that ignores rows where ``y == -1``.

    Use the result as ``scoring=`` in ``GridSearchCV``, ``cross_validate`` or
    ``cross_val_score`` when ``y`` holds the unlabelled marker, so that no
    candidate is ranked on rows that have no label.

    Parameters
    ----------
    scoring : str, callable, list, tuple, set, dict or None, default=None
        A scoring string (``"accuracy"``, ``"f1_macro"``, ...), a scorer callable
        ``scorer(estimator, X, y)``, several of them as a list/tuple/set of
        strings or a dict of name to scoring, or ``None`` for the estimator's
        own ``score`` method.

    Returns
    -------
    scorer : LabeledScorer or dict of str to LabeledScorer
        A dict when several scorings were given (``cross_validate`` accepts it).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn_ssl import SelfTrainingWrapper
    >>> from sklearn_ssl.datasets import hide_labels
    >>> from sklearn_ssl.metrics import make_labeled_scorer
    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> y_ssl = hide_labels(y, n_labeled=0.3, random_state=0)
    >>> scores = cross_val_score(SelfTrainingWrapper(LogisticRegression()), X, y_ssl,
    ...                          scoring=make_labeled_scorer("f1_macro"))
    >>> bool(scores.mean() > 0.8)
    True
    """
    if isinstance(scoring, dict):
        return {name: make_labeled_scorer(s) for name, s in scoring.items()}
    if isinstance(scoring, list | tuple | set):
        return {name: make_labeled_scorer(name) for name in scoring}
    if isinstance(scoring, LabeledScorer):
        return scoring
    if scoring is None:
        return LabeledScorer(None)
    if isinstance(scoring, str):
        return LabeledScorer(get_scorer(scoring))
    if callable(scoring):
        return LabeledScorer(scoring)
    raise ValueError(
        f"scoring should be a string, a callable, a list/tuple/set of strings, a dict or "
        f"None; got {scoring!r}."
    )


def labeled_score(estimator, X, y, scoring=None, **kwargs):
    """Score ``estimator`` on the labelled rows of ``(X, y)`` only.

    Parameters
    ----------
    estimator : fitted estimator
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,), with ``-1`` for rows to skip
    scoring : str or callable, default=None
        As in :func:`make_labeled_scorer`; ``None`` uses ``estimator.score``.

    Returns
    -------
    score : float

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_ssl.metrics import labeled_score
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> labeled_score(model, X, [0, -1, -1, 1], "f1_macro")
    1.0
    """
    if scoring is not None and not isinstance(scoring, str):
        scoring = check_scoring(estimator, scoring=scoring)
    return make_labeled_scorer(scoring)(estimator, X, y, **kwargs)
