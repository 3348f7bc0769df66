"""sklearn_ssl: semi-supervised learning that follows scikit-learn's rules.

Unlabelled rows are marked with ``-1`` in ``y``; every estimator has the usual
``fit(X, y)`` / ``predict(X)`` API and works in Pipelines and GridSearchCV.

Estimators are imported on first use, so ``import sklearn_ssl`` stays fast and
the neural estimators (which need the ``torch`` extra) never load torch unless
they are asked for.
"""

import importlib
import importlib.util

__version__ = "0.1.0.dev0"

# public name -> sub-package that defines it
_ESTIMATORS = {
    "SelfTrainingWrapper": "sklearn_ssl.self_training",
    "PseudoLabeler": "sklearn_ssl.self_training",
    "LabelPropagation": "sklearn_ssl.graph",
    "LabelSpreading": "sklearn_ssl.graph",
    "LocalLabelPropagation": "sklearn_ssl.graph",
    "EntropyRegularizedLogisticRegression": "sklearn_ssl.linear_model",
    "FixMatchClassifier": "sklearn_ssl.neural",
    "MeanTeacherClassifier": "sklearn_ssl.neural",
    "PseudoLabelClassifier": "sklearn_ssl.neural",
    "SafeSemiSupervisedClassifier": "sklearn_ssl.model_selection",
}

_SUBMODULES = [
    "base",
    "datasets",
    "exceptions",
    "graph",
    "linear_model",
    "metrics",
    "model_selection",
    "neural",
    "self_training",
    "utils",
]


def _has_torch_extra():
    try:
        return all(importlib.util.find_spec(name) is not None for name in ("torch", "skorch"))
    except (ImportError, ValueError):  # ValueError: a module blocked in sys.modules
        return False


# ``from sklearn_ssl import *`` must work without the torch extra: the neural names
# are listed only when it is installed (accessing them otherwise says what to install).
__all__ = sorted(_ESTIMATORS) + _SUBMODULES
if not _has_torch_extra():
    _NEURAL = {"neural"} | {k for k, v in _ESTIMATORS.items() if v == "sklearn_ssl.neural"}
    __all__ = [name for name in __all__ if name not in _NEURAL]


def __getattr__(name):
    if name in _ESTIMATORS:
        return getattr(importlib.import_module(_ESTIMATORS[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"sklearn_ssl.{name}")
    raise AttributeError(f"module 'sklearn_ssl' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
