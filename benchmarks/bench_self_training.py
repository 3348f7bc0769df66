"""Self-training benchmarks: SelfTrainingWrapper vs supervised vs scikit-learn.

Prints markdown tables of test accuracy (mean ± std over seeds) and fit time.

    python benchmarks/bench_self_training.py mnist --data ../shared/data/mnist/mnist.npz
    python benchmarks/bench_self_training.py digits
    python benchmarks/bench_self_training.py defaults

``mnist`` reproduces seed 000's experiment: 1000 class-balanced labelled rows of the
60000 training images, the rest unlabelled, Normalizer -> PCA(50) ->
PolynomialFeatures(2) -> SGDClassifier(log_loss, alpha=1e-5), scored on the
10000 test images. The unsupervised feature steps are fitted once per seed on
all training images (as the seed does) and the classifiers are timed on the
resulting features, so fit times compare the self-training loops alone.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer, PolynomialFeatures, StandardScaler
from sklearn.semi_supervised import SelfTrainingClassifier

from sklearn_ssl import SelfTrainingWrapper
from sklearn_ssl.datasets import hide_labels
from sklearn_ssl.self_training import RampSchedule


def run(methods, X_train, y_ssl, X_test, y_test, verbose=False):
    """Fit each method, return {name: (accuracy, fit seconds)}."""
    out = {}
    labeled = y_ssl != -1
    for name, est in methods.items():
        est = clone(est)
        tic = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if name == "supervised":
                est.fit(X_train[labeled], y_ssl[labeled])
            else:
                est.fit(X_train, y_ssl)
        elapsed = time.perf_counter() - tic
        out[name] = (float(np.mean(est.predict(X_test) == y_test)), elapsed)
        if verbose:
            print(f"  {name}: {100 * out[name][0]:.2f}% in {elapsed:.1f} s", flush=True)
    return out


def table(title, results, baseline="supervised"):
    """results: {method: [(acc, time) per seed]}"""
    base = np.mean([a for a, _ in results[baseline]])
    lines = [
        f"\n{title}\n",
        "| method | accuracy (%) | gain vs supervised | fit time (s) |",
        "|---|---|---|---|",
    ]
    for name, runs in results.items():
        acc = np.array([a for a, _ in runs]) * 100
        sec = np.array([t for _, t in runs])
        gain = acc.mean() - base * 100
        lines.append(
            f"| {name} | {acc.mean():.2f} ± {acc.std():.2f} | {gain:+.2f} | "
            f"{sec.mean():.2f} ± {sec.std():.2f} |"
        )
    print("\n".join(lines), flush=True)


def bench_mnist(args):
    data = np.load(args.data)
    X_all = data["x_train"].reshape(len(data["x_train"]), -1).astype(np.float64)
    X_te_raw = data["x_test"].reshape(len(data["x_test"]), -1).astype(np.float64)
    y_all, y_test = data["y_train"].astype(np.int64), data["y_test"].astype(np.int64)
    if args.quick:
        X_all, y_all = X_all[:15000], y_all[:15000]
    sgd = SGDClassifier(loss="log_loss", alpha=1e-5, random_state=0)
    methods = {
        "supervised": sgd,
        "PseudoLabeler(sample_rate=0.04) [seed 000's rate]": SelfTrainingWrapper(
            sgd, sample_rate=0.04, random_state=0
        ),
        "PseudoLabeler(sample_rate=0.04, relabel=False)": SelfTrainingWrapper(
            sgd, sample_rate=0.04, relabel=False, random_state=0
        ),
        "PseudoLabeler(sample_rate=0.04, relabel=False, min_labeled_fraction=0) [seed 000]": (
            SelfTrainingWrapper(
                sgd, sample_rate=0.04, relabel=False, min_labeled_fraction=0, random_state=0
            )
        ),
        "PseudoLabeler() defaults": SelfTrainingWrapper(sgd, random_state=0),
        "sklearn SelfTrainingClassifier(threshold=0.75)": SelfTrainingClassifier(
            sgd, threshold=0.75
        ),
    }
    if args.extra:
        methods.update(
            {
                "PseudoLabeler(sample_rate=0.04, min_labeled_fraction=0.25)": SelfTrainingWrapper(
                    sgd, sample_rate=0.04, min_labeled_fraction=0.25, random_state=0
                ),
                "PseudoLabeler(sample_rate=RampSchedule(0.04, t1=0, t2=5))": SelfTrainingWrapper(
                    sgd, sample_rate=RampSchedule(0.04, t1=0, t2=5), random_state=0
                ),
                "PseudoLabeler(selection='confidence')": SelfTrainingWrapper(
                    sgd, selection="confidence", random_state=0
                ),
            }
        )
    if args.only:
        methods = {
            k: v
            for k, v in methods.items()
            if k == "supervised" or any(part in k for part in args.only)
        }
    results = {k: [] for k in methods}
    for seed in args.seeds:
        feats = make_pipeline(Normalizer(), PCA(50, random_state=seed), PolynomialFeatures(2))
        X_train = feats.fit_transform(X_all)
        X_test = feats.transform(X_te_raw)
        y_ssl = hide_labels(y_all, n_per_class=100, random_state=seed)
        for m in methods.values():
            for key in ("random_state", "estimator__random_state"):
                if key in m.get_params():
                    m.set_params(**{key: seed})
        print(f"seed {seed}", flush=True)
        res = run(methods, X_train, y_ssl, X_test, y_test, verbose=True)
        for k, v in res.items():
            results[k].append(v)
    table(f"MNIST, 1000 labels, seeds {args.seeds}", results)


def small_data(name, seed):
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        X = X / 16.0
    elif name == "breast_cancer":
        X, y = load_breast_cancer(return_X_y=True)
    elif name == "wine":
        X, y = load_wine(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    if name != "digits":
        scaler = StandardScaler().fit(X_tr)
        X_tr, X_te = scaler.transform(X_tr), scaler.transform(X_te)
    y_ssl = hide_labels(y_tr, n_per_class=10 if name != "wine" else 5, random_state=seed)
    return X_tr, y_ssl, X_te, y_te


def bench_digits(args):
    lr = LogisticRegression(max_iter=1000)
    methods = {
        "supervised": lr,
        "PseudoLabeler() defaults": SelfTrainingWrapper(lr),
        "PseudoLabeler(sample_rate=0.04) [seed 000's rate]": SelfTrainingWrapper(
            lr, sample_rate=0.04
        ),
        "PseudoLabeler(selection='confidence')": SelfTrainingWrapper(lr, selection="confidence"),
        "PseudoLabeler(selection='confidence', weighting='smooth')": SelfTrainingWrapper(
            lr, selection="confidence", weighting="smooth"
        ),
        "PseudoLabeler(selection='confidence', class_balance=True)": SelfTrainingWrapper(
            lr, selection="confidence", class_balance=True
        ),
        "sklearn SelfTrainingClassifier() defaults": SelfTrainingClassifier(lr),
    }
    results = {k: [] for k in methods}
    for seed in args.seeds:
        for m in methods.values():
            if "random_state" in m.get_params():
                m.set_params(random_state=seed)
        res = run(methods, *small_data("digits", seed))
        for k, v in res.items():
            results[k].append(v)
    table(f"digits, 10 labels per class, LogisticRegression, seeds {args.seeds}", results)


def bench_defaults(args):
    """Default settings on every small data set: SSL must not hurt by more than a point."""
    lr = LogisticRegression(max_iter=1000)
    for name in ("digits", "breast_cancer", "wine"):
        methods = {
            "supervised": lr,
            "PseudoLabeler() defaults": SelfTrainingWrapper(lr),
            "PseudoLabeler(selection='confidence')": SelfTrainingWrapper(
                lr, selection="confidence"
            ),
            "PseudoLabeler(selection='random')": SelfTrainingWrapper(lr, selection="random"),
            "sklearn SelfTrainingClassifier() defaults": SelfTrainingClassifier(lr),
        }
        results = {k: [] for k in methods}
        for seed in args.seeds:
            for m in methods.values():
                if "random_state" in m.get_params():
                    m.set_params(random_state=seed)
            for k, v in run(methods, *small_data(name, seed)).items():
                results[k].append(v)
        n = "5" if name == "wine" else "10"
        table(f"{name}, {n} labels per class, LogisticRegression, seeds {args.seeds}", results)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("benchmark", choices=["mnist", "digits", "defaults"])
    parser.add_argument(
        "--data", default="../shared/data/mnist/mnist.npz", help="path to mnist.npz (Keras layout)"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--quick", action="store_true", help="MNIST on 15000 training rows")
    parser.add_argument(
        "--extra", action="store_true", help="MNIST: also the ramp, confidence and 0.25 variants"
    )
    parser.add_argument(
        "--only", nargs="+", default=None, help="run only methods whose name contains one of these"
    )
    args = parser.parse_args()
    if args.seeds is None:
        args.seeds = [0, 1, 2] if args.benchmark == "mnist" else list(range(10))
    {"mnist": bench_mnist, "digits": bench_digits, "defaults": bench_defaults}[args.benchmark](args)


if __name__ == "__main__":
    main()
