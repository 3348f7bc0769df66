"""Accuracy of the graph family on real and toy data, beside scikit-learn and a supervised model.

Data sets
---------
digits
    scikit-learn's 8x8 digits (1797 rows), 10 labels per class; transductive
    accuracy on the unlabelled rows.
mnist
    MNIST from an npz file (Keras layout), PCA to 50 dimensions fitted on the
    training images; 1000 labels (100 per class) among the 60000 training rows;
    transductive accuracy on the unlabelled training rows and inductive
    accuracy on the 10000 test rows.
moons
    ``make_moons(1000, noise=0.1)`` with 3 labels per class.

Examples
--------
python benchmarks/bench_graph_accuracy.py --quick
python benchmarks/bench_graph_accuracy.py --seeds 0 1 2 3 4 --mnist ../shared/data/mnist/mnist.npz
"""

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits, make_moons
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.semi_supervised import LabelSpreading as SkLabelSpreading

from sklearn_ssl.datasets import hide_labels
from sklearn_ssl.graph import LabelPropagation, LabelSpreading, LocalLabelPropagation

DEFAULT_MNIST = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist" / "mnist.npz"
)


def _logistic():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def methods(n_neighbors):
    """name -> factory(seed). The same n_neighbors for scikit-learn and ours."""
    return {
        "supervised LogisticRegression": lambda s: _logistic(),
        "scikit-learn LabelSpreading knn": lambda s: SkLabelSpreading(
            kernel="knn", n_neighbors=n_neighbors, max_iter=100
        ),
        "LabelPropagation": lambda s: LabelPropagation(n_neighbors=n_neighbors),
        "LabelSpreading": lambda s: LabelSpreading(n_neighbors=n_neighbors, max_iter=100),
        "LabelSpreading alpha=0.9": lambda s: LabelSpreading(
            n_neighbors=n_neighbors, alpha=0.9, max_iter=100
        ),
        "LocalLabelPropagation": lambda s: LocalLabelPropagation(),
        "LocalLabelPropagation NoDW": lambda s: LocalLabelPropagation(density_weighting=False),
        "LocalLabelPropagation + LogisticRegression": lambda s: LocalLabelPropagation(_logistic()),
    }


def evaluate(name, model, X, y, y_ssl, X_test=None, y_test=None):
    unlabeled = y_ssl == -1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        if name.startswith("supervised"):
            model.fit(X[~unlabeled], y_ssl[~unlabeled])
            trans = model.predict(X[unlabeled])
        else:
            model.fit(X, y_ssl)
            if hasattr(model, "estimator_"):
                # The meta-estimator's own predictions on the unlabelled rows.
                trans = model.predict(X[unlabeled])
            else:
                trans = model.transduction_[unlabeled]
        seconds = time.perf_counter() - start
        test = None if X_test is None else float(np.mean(model.predict(X_test) == y_test))
    return float(np.mean(trans == y[unlabeled])), test, seconds


def load_mnist(path):
    data = np.load(path)
    X = data["x_train"].reshape(60000, -1).astype(np.float32) / 255.0
    X_test = data["x_test"].reshape(10000, -1).astype(np.float32) / 255.0
    pca = PCA(50, random_state=0).fit(X)
    return (
        pca.transform(X),
        data["y_train"].astype(int),
        pca.transform(X_test),
        data["y_test"].astype(int),
    )


def fmt(values):
    values = [v for v in values if v is not None]
    if not values:
        return ""
    return f"{100 * np.mean(values):.2f} ± {100 * np.std(values):.2f}"


def run(dataset, X, y, seeds, hide, n_neighbors, X_test=None, y_test=None, skip=()):
    print(f"\n### {dataset}\n")
    has_test = X_test is not None
    head = "| method | transductive accuracy (%) |"
    head += " test accuracy (%) |" if has_test else ""
    print(head + " fit time (s) |")
    print("|---|---|" + ("---|" if has_test else "") + "---|")
    for name, factory in methods(n_neighbors).items():
        if name in skip:
            continue
        res = [evaluate(name, factory(s), X, y, hide(y, s), X_test, y_test) for s in seeds]
        row = f"| {name} | {fmt([r[0] for r in res])} |"
        row += f" {fmt([r[1] for r in res])} |" if has_test else ""
        print(row + f" {np.mean([r[2] for r in res]):.2f} |", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--mnist", default=str(DEFAULT_MNIST), help="path to mnist.npz")
    parser.add_argument("--datasets", nargs="+", default=["digits", "moons", "mnist"])
    parser.add_argument("--quick", action="store_true", help="one seed, no MNIST")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds = [0]
        args.datasets = [d for d in args.datasets if d != "mnist"]
    print(f"seeds {args.seeds}; mean ± std over seeds")

    if "digits" in args.datasets:
        X, y = load_digits(return_X_y=True)
        run(
            "digits, 10 labels per class (n_neighbors=7)",
            X,
            y,
            args.seeds,
            lambda y, s: hide_labels(y, n_per_class=10, random_state=s),
            n_neighbors=7,
        )
    if "moons" in args.datasets:
        X, y = make_moons(1000, noise=0.1, random_state=0)
        run(
            "two moons (1000 rows, noise 0.1), 3 labels per class (n_neighbors=10)",
            X,
            y,
            args.seeds,
            lambda y, s: hide_labels(y, n_per_class=3, random_state=s),
            n_neighbors=10,
        )
    if "mnist" in args.datasets:
        X, y, X_test, y_test = load_mnist(args.mnist)
        run(
            "MNIST, PCA(50), 1000 labels (100 per class) of 60000 (n_neighbors=10)",
            X,
            y,
            args.seeds,
            lambda y, s: hide_labels(y, n_per_class=100, random_state=s),
            n_neighbors=10,
            X_test=X_test,
            y_test=y_test,
        )


if __name__ == "__main__":
    main()
