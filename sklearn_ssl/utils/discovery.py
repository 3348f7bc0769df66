"""Find the public estimators of sklearn_ssl."""

import importlib
import inspect

from sklearn.base import BaseEstimator


def all_estimators(include_neural=None):
    """Return ``(name, class)`` for every public estimator, sorted by name.

    Parameters
    ----------
    include_neural : bool or None, default=None
        Include the torch-backed estimators. ``None`` includes them when torch
        and skorch can be imported.

    Returns
    -------
    estimators : list of (str, type)
        Aliases (``PseudoLabeler``) are listed once, under their class name.
    """
    import sklearn_ssl

    seen = {}
    for name, module_name in sorted(sklearn_ssl._ESTIMATORS.items()):
        if module_name == "sklearn_ssl.neural":
            if include_neural is False:
                continue
            if include_neural is None:
                try:
                    importlib.import_module(module_name)
                except ImportError:
                    continue
        cls = getattr(importlib.import_module(module_name), name)
        if inspect.isclass(cls) and issubclass(cls, BaseEstimator):
            seen.setdefault(cls.__name__, cls)
    return sorted(seen.items())
