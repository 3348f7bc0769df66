"""Checks shared by the meta-estimators (self-training, the guard)."""


def estimator_has(attr, unfitted):
    """An ``available_if`` check: does the meta-estimator's inner model have ``attr``?

    After ``fit`` the fitted ``estimator_`` decides; before it, every estimator
    that ``unfitted(meta)`` returns must have ``attr`` (the one that ``fit``
    would clone, or each of those it may select from).

    Parameters
    ----------
    attr : str
        The method, such as ``"predict_proba"``.
    unfitted : callable
        ``meta -> iterable of estimators``.

    Returns
    -------
    check : callable
        ``meta -> bool``, for :func:`sklearn.utils.metaestimators.available_if`.
    """

    def check(self):
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return all(hasattr(est, attr) for est in unfitted(self))

    return check
