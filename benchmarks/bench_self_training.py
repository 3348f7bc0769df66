"""Self-training benchmarks: SelfTrainingWrapper vs supervised vs scikit-learn.

Prints markdown tables of test accuracy (mean ± std over seeds) and fit time.

    python benchmarks/bench_self_training.py mnist --data ../shared/data/mnist/mnist.npz
    python benchmarks/bench_self_training.py digits
    python benchmarks/bench_self_training.py defaults
    python benchmarks/bench_self_training.py threads --seeds 0 1 2
    python benchmarks/bench_self_training.py blas-sizes

``mnist`` reproduces Anirudh S.'s experiment: 1000 class-balanced labelled rows of the
60000 training images, the rest unlabelled, Normalizer -> PCA(50) ->
PolynomialFeatures(2) -> SGDClassifier(log_loss, alpha=1e-5), scored on the
10000 test images. The unsupervised feature steps are fitted once per seed on
all training images (as the seed does) and the classifiers are timed on the
resulting features, so fit times compare the self-training loops alone.

``threads`` times fits with the default BLAS threads and no limit (the library
before it limited small fits), with ``threadpool_limits(1)`` around the whole
fit, and with the library's limit (``sklearn_ssl.utils._blas``), alternating
the order, on digits and on an MNIST subset; ``blas-sizes`` times single
LogisticRegression fits of growing size with default threads and with one.
"""

import argparse
import time
import warnings
from contextlib import nullcontext

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
from threadpoolctl import threadpool_info, threadpool_limits

from sklearn_ssl import SelfTrainingWrapper
from sklearn_ssl.datasets import hide_labels
from sklearn_ssl.self_training import RampSchedule
from sklearn_ssl.utils import _blas


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
        "PseudoLabeler(sample_rate=0.04) [Anirudh S.'s rate]": SelfTrainingWrapper(
            sgd, sample_rate=0.04, random_state=0
        ),
        "PseudoLabeler(sample_rate=0.04, relabel=False)": SelfTrainingWrapper(
            sgd, sample_rate=0.04, relabel=False, random_state=0
        ),
        "PseudoLabeler(sample_rate=0.04, relabel=False, min_labeled_fraction=0) [Anirudh S.'s]": (
            SelfTrainingWrapper(
                sgd, sample_rate=0.04, relabel=False, min_labeled_fraction=0, random_state=0
            )
        ),
        "PseudoLabeler() defaults": SelfTrainingWrapper(sgd, random_state=0),
        "PseudoLabeler(class_balance=False, min_labeled_fraction=0.125) [defaults before "
        "the suite]": SelfTrainingWrapper(
            sgd, class_balance=False, min_labeled_fraction=0.125, random_state=0
        ),
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
        "PseudoLabeler(sample_rate=0.04) [Anirudh S.'s rate]": SelfTrainingWrapper(
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


THREAD_MODES = ("default threads, no limit", "one thread", "default threads, limit")


def fit_seconds(est, X, y_ssl, mode):
    """Fit ``est`` under a thread mode of THREAD_MODES; return (seconds, refits)."""
    bound = _blas.SMALL_BLAS_WORK
    if mode == THREAD_MODES[0]:
        _blas.SMALL_BLAS_WORK = -1  # nothing counts as small: the library before the limit
    limit = threadpool_limits(1, user_api="blas") if mode == THREAD_MODES[1] else nullcontext()
    try:
        with limit, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # timing only
            tic = time.perf_counter()
            est.fit(X, y_ssl)
            return time.perf_counter() - tic, est.n_iter_
    finally:
        _blas.SMALL_BLAS_WORK = bound


def mnist_features(path, n_rows, seed):
    """The first ``n_rows`` MNIST training images, Normalizer -> PCA(50) -> poly 2."""
    data = np.load(path)
    X = data["x_train"][:n_rows].reshape(n_rows, -1).astype(np.float64)
    feats = make_pipeline(Normalizer(), PCA(50, random_state=seed), PolynomialFeatures(2))
    return feats.fit_transform(X), data["y_train"][:n_rows].astype(np.int64)


def bench_threads(args):
    """Fit times (median of ``--repeats`` alternating runs per seed) in each thread mode."""
    blas = [
        (i["internal_api"], i["num_threads"]) for i in threadpool_info() if i["user_api"] == "blas"
    ]
    print(f"BLAS (library, threads): {blas}; one thread up to {_blas.SMALL_BLAS_WORK:,} values")
    cases = {
        "digits, defaults": lambda: SelfTrainingWrapper(),
        "digits, sample_rate=0.01": lambda: SelfTrainingWrapper(sample_rate=0.01),
        "digits, sample_rate=5, confidence": lambda: SelfTrainingWrapper(
            sample_rate=5, selection="confidence"
        ),
        f"MNIST {args.mnist_rows:,} rows, 1326 features, sample_rate=0.25, LR(max_iter=30)": (
            lambda: SelfTrainingWrapper(LogisticRegression(max_iter=30), sample_rate=0.25)
        ),
    }
    if args.only:
        cases = {k: v for k, v in cases.items() if any(part in k for part in args.only)}
    lines = [
        "| case | seed | refits | " + " | ".join(f"{m} (s)" for m in THREAD_MODES) + " |",
        "|---|---|---|" + "---|" * len(THREAD_MODES),
    ]
    for name, make in cases.items():
        for seed in args.seeds:
            if name.startswith("digits"):
                X, y_ssl, _, _ = small_data("digits", seed)
            else:
                X, y = mnist_features(args.data, args.mnist_rows, seed)
                y_ssl = hide_labels(y, n_per_class=100, random_state=seed)
            times = {m: [] for m in THREAD_MODES}
            for r in range(args.repeats):
                # rotate the order so that no mode always runs first or last
                for mode in THREAD_MODES[r % 3 :] + THREAD_MODES[: r % 3]:
                    sec, refits = fit_seconds(make().set_params(random_state=seed), X, y_ssl, mode)
                    times[mode].append(sec)
            medians = " | ".join(f"{np.median(times[m]):.2f}" for m in THREAD_MODES)
            lines.append(f"| {name} | {seed} | {refits} | {medians} |")
            print(lines[-1], flush=True)
    print("\n" + "\n".join(lines), flush=True)


def bench_blas_sizes(args):
    """LogisticRegression fits of 20 L-BFGS iterations (tol=0) on the first n rows and
    p columns of the MNIST features, default BLAS threads against one (medians of
    ``--repeats`` alternating runs): where BLAS threads start to pay."""
    sizes = [tuple(int(v) for v in size.split("x")) for size in args.sizes]
    X_all, y_all = mnist_features(args.data, max(n for n, _ in sizes), seed=0)
    lines = ["| rows x features | values | default threads (s) | one thread (s) | ratio |"]
    lines.append("|---|---|---|---|---|")
    for n, p in sizes:
        X, y = np.ascontiguousarray(X_all[:n, :p]), y_all[:n]
        est = LogisticRegression(max_iter=20, tol=0)
        times = {"default": [], "one": []}
        for r in range(args.repeats):
            for mode in ("default", "one") if r % 2 == 0 else ("one", "default"):
                limit = threadpool_limits(1, user_api="blas") if mode == "one" else nullcontext()
                with limit, warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    tic = time.perf_counter()
                    clone(est).fit(X, y)
                    times[mode].append(time.perf_counter() - tic)
        default, one = np.median(times["default"]), np.median(times["one"])
        lines.append(
            f"| {n} x {p} | {n * p:.1e} | {default:.2f} | {one:.2f} | {default / one:.1f} |"
        )
        print(lines[-1], flush=True)
    print("\n" + "\n".join(lines), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "benchmark", choices=["mnist", "digits", "defaults", "threads", "blas-sizes"]
    )
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
    parser.add_argument("--repeats", type=int, default=5, help="threads: runs per mode")
    parser.add_argument(
        "--mnist-rows", type=int, default=30000, help="threads: MNIST training rows"
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=["1000x64", "10000x64", "1000x1326", "3000x1326", "10000x1326", "30000x1326"],
        help="blas-sizes: rows x feature columns of the MNIST features",
    )
    args = parser.parse_args()
    if args.seeds is None:
        args.seeds = [0, 1, 2] if args.benchmark in ("mnist", "threads") else list(range(10))
    benchmarks = {
        "mnist": bench_mnist,
        "digits": bench_digits,
        "defaults": bench_defaults,
        "threads": bench_threads,
        "blas-sizes": bench_blas_sizes,
    }
    benchmarks[args.benchmark](args)


if __name__ == "__main__":
    main()
