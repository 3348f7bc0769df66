"""Demo: supervised vs semi-supervised accuracy on data that scikit-learn ships.

Run it with ``python -m sklearn_ssl.demo``. It hides all but a few labels of
digits and breast_cancer, fits each classical sklearn_ssl estimator on the
labelled plus unlabelled rows, and prints test accuracy beside a supervised
model that sees only the labelled rows. It needs no download and runs in well
under a minute on a laptop.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sklearn_ssl.datasets import hide_labels


def _candidates():
    """(name, factory) for each estimator to show; skipped if its module is absent."""
    import sklearn_ssl

    specs = [
        (
            "SelfTrainingWrapper(LogisticRegression)",
            lambda: sklearn_ssl.SelfTrainingWrapper(LogisticRegression(max_iter=1000)),
        ),
        (
            "SelfTrainingWrapper(LogisticRegression, confidence)",
            lambda: sklearn_ssl.SelfTrainingWrapper(
                LogisticRegression(max_iter=1000), selection="confidence"
            ),
        ),
        ("LabelSpreading", lambda: sklearn_ssl.LabelSpreading()),
        ("LocalLabelPropagation", lambda: sklearn_ssl.LocalLabelPropagation()),
        (
            "EntropyRegularizedLogisticRegression",
            lambda: sklearn_ssl.EntropyRegularizedLogisticRegression(),
        ),
    ]
    for name, factory in specs:
        try:
            factory()
        except (ImportError, AttributeError):
            continue
        yield name, factory


def _data(name, seed):
    loader = {"digits": load_digits, "breast_cancer": load_breast_cancer}[name]
    X, y = loader(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), scaler.transform(X_te), y_tr, y_te


def main(argv=None):
    parser = argparse.ArgumentParser(description="sklearn_ssl demo")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--labels-per-class", type=int, default=10)
    args = parser.parse_args(argv)

    print(
        f"sklearn_ssl demo: {args.labels_per_class} labelled rows per class, the rest "
        f"unlabelled (-1); test accuracy, mean ± std over seeds {args.seeds}\n"
    )
    for dataset in ("digits", "breast_cancer"):
        rows = {}
        for seed in args.seeds:
            X_tr, X_te, y_tr, y_te = _data(dataset, seed)
            y_ssl = hide_labels(y_tr, n_per_class=args.labels_per_class, random_state=seed)
            lab = y_ssl != -1
            models = [("supervised LogisticRegression (labelled rows only)", None)]
            models += list(_candidates())
            for name, factory in models:
                tic = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    if factory is None:
                        model = LogisticRegression(max_iter=1000).fit(X_tr[lab], y_ssl[lab])
                    else:
                        model = factory()
                        if "random_state" in model.get_params():
                            model.set_params(random_state=seed)
                        model.fit(X_tr, y_ssl)
                acc = np.mean(model.predict(X_te) == y_te)
                rows.setdefault(name, []).append((acc, time.perf_counter() - tic))
        print(f"{dataset} ({len(y_tr) + len(y_te)} rows)")
        print(f"  {'estimator':<52} {'accuracy':>14} {'fit (s)':>8}")
        for name, runs in rows.items():
            acc = 100 * np.array([a for a, _ in runs])
            sec = np.mean([t for _, t in runs])
            print(f"  {name:<52} {acc.mean():6.2f} ± {acc.std():4.2f} {sec:8.2f}")
        print()


if __name__ == "__main__":
    main()
