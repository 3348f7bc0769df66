"""One cell of the benchmark suite: fit every named estimator on one data set,
label budget and seed (in a worker process when the suite runs in parallel)."""

import functools
import time
import warnings

import numpy as np
from _suite_data import label_budget, load_dataset, split
from _suite_estimators import all_specs
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.pipeline import Pipeline

from sklearn_ssl import SafeSemiSupervisedClassifier
from sklearn_ssl.utils import is_labeled


@functools.lru_cache(maxsize=4)
def _load(name, data_dir):
    return load_dataset(name, data_dir)


def _final(model):
    """The estimator at the end of a (nested) Pipeline."""
    return _final(model.steps[-1][1]) if isinstance(model, Pipeline) else model


def _fit_one(spec, seed, dataset, X_train, y_ssl, X_test, y_test):
    model = Pipeline([("prep", dataset.preprocessor()), ("model", spec.factory(seed))])
    if spec.guarded:
        # Around the whole Pipeline, as a user would: the supervised counterpart is
        # then the same Pipeline ending in LogisticRegression, fitted on the labelled
        # rows, which is exactly the suite's reference.
        model = SafeSemiSupervisedClassifier(model, random_state=seed)
    labeled = is_labeled(y_ssl)
    record = {"error": "", "selected": "", "share_ratio": np.nan, "warnings": ""}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tic = time.perf_counter()
        try:
            if spec.labeled_only:
                rows = np.flatnonzero(labeled)
                X_fit = X_train.iloc[rows] if hasattr(X_train, "iloc") else X_train[rows]
                model.fit(X_fit, y_ssl[rows].astype(y_test.dtype))
            else:
                model.fit(X_train, y_ssl)
            record["fit_time"] = time.perf_counter() - tic
            pred = model.predict(X_test)
        except Exception as exc:  # a failing default is a result, not a crash of the suite
            record.update(fit_time=time.perf_counter() - tic, error=f"{type(exc).__name__}: {exc}")
            pred = None
    names = sorted(
        {w.category.__name__ for w in caught}
        - {"DeprecationWarning", "FutureWarning", "PendingDeprecationWarning"}
    )
    record["warnings"] = " ".join(names)
    if pred is None:
        record.update(accuracy=np.nan, balanced_accuracy=np.nan)
        return record
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        record["accuracy"] = 100 * accuracy_score(y_test, pred)
        record["balanced_accuracy"] = 100 * balanced_accuracy_score(y_test, pred)
    last = _final(model)
    record["selected"] = getattr(last, "selected_", "")
    gain = getattr(last, "cv_gain_", {})
    for key in ("accuracy", "balanced_accuracy", "n_wins", "n_losses", "p_value"):
        record[f"cv_{key}"] = gain.get(key, np.nan)
    ratio = getattr(last, "class_share_ratio_", None)
    if ratio is None and hasattr(last, "selected_"):
        ratio = getattr(_final(last.estimator_), "class_share_ratio_", None)
    record["share_ratio"] = np.nan if ratio is None else float(ratio)
    return record


def run_cell(dataset_name, data_dir, budget, seed, names, caps, threads):
    """Fit the named estimators on one (data set, budget, seed); return CSV rows."""
    from threadpoolctl import threadpool_limits

    specs = all_specs()
    dataset = _load(dataset_name, str(data_dir))
    X_train, X_test, y_train, y_test = split(dataset, seed, **caps)
    y_ssl = label_budget(y_train, budget, seed)
    n_labeled = int(is_labeled(y_ssl).sum())
    rows = []
    limit = threadpool_limits(threads) if threads else None
    if threads:
        try:
            import torch

            torch.set_num_threads(threads)
        except ImportError:
            pass
    try:
        for name in names:
            record = _fit_one(specs[name], seed, dataset, X_train, y_ssl, X_test, y_test)
            rows.append(
                {
                    "dataset": dataset_name,
                    "budget": budget,
                    "seed": seed,
                    "estimator": name,
                    "group": specs[name].group,
                    "reference": specs[name].reference,
                    "n_train": len(y_train),
                    "n_labeled": n_labeled,
                    "n_test": len(y_test),
                    "n_classes": dataset.n_classes,
                    **record,
                }
            )
    finally:
        if limit is not None:
            limit.unregister()
    return rows
