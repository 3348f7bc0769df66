"""Passing ``sample_weight`` to a wrapped classifier, or to the last step of a Pipeline."""

from sklearn import get_config
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import has_fit_parameter


def _final_path(estimator):
    """Step names down to the estimator that fits last (Pipelines may nest)."""
    path = []
    while isinstance(estimator, Pipeline):
        name, estimator = estimator.steps[-1]
        path.append(name)
    return path, estimator


def accepts_sample_weight(estimator):
    """Whether ``estimator`` (or the last step of a Pipeline) takes ``sample_weight`` in fit."""
    return has_fit_parameter(_final_path(estimator)[1], "sample_weight")


def weight_taker_name(estimator):
    """The class that would receive the weights, for error messages."""
    path, final = _final_path(estimator)
    name = type(final).__name__
    return f"{name} (the last step of the Pipeline)" if path else name


def sample_weight_params(estimator, weight):
    """Fit parameters that hand ``weight`` to ``estimator`` as ``sample_weight``.

    A Pipeline takes its last step's weights as ``<step>__sample_weight``
    (``<step>__<inner step>__sample_weight`` when Pipelines nest). With
    scikit-learn's metadata routing enabled it takes ``sample_weight`` itself and
    routes it to the steps that requested it (``set_fit_request``).
    """
    path, _ = _final_path(estimator)
    if not path or get_config().get("enable_metadata_routing", False):
        return {"sample_weight": weight}
    return {"__".join(path) + "__sample_weight": weight}
