"""Benchmark EntropyRegularizedLogisticRegression against its supervised baseline.

Three problems, each with few labels and many unlabelled rows:

* two moons, 2000 training points (500 with ``--quick``; noise 0.1), 3 labels
  per class, RBF features from ``Nystroem(gamma=3, n_components=200)`` fitted
  on all training rows;
  tested on 1000 fresh points;
* digits, 10 labels per class, standardised, tested on a stratified 30% split;
* breast_cancer, 10 labels per class, standardised, tested on a stratified 30% split.

Every method sees the same features and the same ``C``:

* ``LogisticRegression`` fitted on the labelled rows (supervised baseline);
* ``EntropyRegularizedLogisticRegression`` with its defaults (``lambda_=0.25``,
  ``class_balance=1``, 5 annealing steps), with ``lambda_=1`` (the default before the
  benchmark suite), and two ablations: ``class_balance=0``
  (the plain Grandvalet & Bengio criterion) and ``annealing_steps=1`` (straight
  from the supervised solution to ``lambda_``);
* scikit-learn's ``SelfTrainingClassifier(LogisticRegression)`` (the peer).

Prints one markdown table per problem and ``C`` (two moons at three values of
``C``): test accuracy (mean ± std over seeds), the gain over the supervised
baseline on the same seed (mean ± std; wins = seeds where it is higher) and fit
time (one BLAS thread for every method). Run
``python benchmarks/bench_entropy_logistic.py --quick`` for a smoke run.

``--timing`` prints fit times instead: EntropyRegularizedLogisticRegression (its
defaults) against ``LogisticRegression`` fitted on the labelled rows only (a user's
supervised baseline) and on all rows with their true labels (the cost of solving one
problem of the same size), both with ``max_iter=1000`` so that all three stop on the
same gradient tolerance. Problems: the first 10,000 MNIST training images (784 pixels
scaled to [0, 1], tested on the 10,000 test images) with 10 and 100 labels per class,
and digits as above. Every fit is repeated ``--repeats`` times per seed, the methods
alternating (the machine may be shared); the table gives medians over seeds and
repeats, the time ratios being taken within each repeat. ``--reference FILE`` adds
another version of ``_entropy_logistic.py`` (e.g. from ``git show``) to the timed
methods, for before/after comparisons on the same machine at the same time.
"""

import argparse
import importlib.util
import os
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.semi_supervised import SelfTrainingClassifier
from threadpoolctl import threadpool_limits

from sklearn_ssl.datasets import hide_labels
from sklearn_ssl.linear_model import EntropyRegularizedLogisticRegression


def moons(seed, quick):
    n_train = 500 if quick else 2000
    X, y = make_moons(n_samples=n_train, noise=0.1, random_state=seed)
    X_test, y_test = make_moons(n_samples=1000, noise=0.1, random_state=10_000 + seed)
    features = Nystroem(gamma=3.0, n_components=200, random_state=seed).fit(X)
    y_ssl = hide_labels(y, n_per_class=3, random_state=seed)
    return features.transform(X), y_ssl, features.transform(X_test), y_test


def _split(loader, seed):
    X, y = loader(return_X_y=True)
    X, X_test, y, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(X)
    y_ssl = hide_labels(y, n_per_class=10, random_state=seed)
    return scaler.transform(X), y_ssl, scaler.transform(X_test), y_test, y


def _real(loader, seed):
    return _split(loader, seed)[:4]


PROBLEMS = {
    "two moons (3 labels/class, Nystroem RBF)": (moons, [1.0, 10.0, 1000.0]),
    "digits (10 labels/class)": (lambda seed, quick: _real(load_digits, seed), [1.0]),
    "breast_cancer (10 labels/class)": (
        lambda seed, quick: _real(load_breast_cancer, seed),
        [1.0],
    ),
}


def methods(C):
    return {
        "LogisticRegression (labelled rows only)": "supervised",
        "EntropyRegularizedLogisticRegression": EntropyRegularizedLogisticRegression(C=C),
        "EntropyRegularizedLogisticRegression(lambda_=1)": (
            EntropyRegularizedLogisticRegression(C=C, lambda_=1.0)
        ),
        "EntropyRegularizedLogisticRegression(class_balance=0)": (
            EntropyRegularizedLogisticRegression(C=C, class_balance=0.0)
        ),
        "EntropyRegularizedLogisticRegression(annealing_steps=1)": (
            EntropyRegularizedLogisticRegression(C=C, annealing_steps=1)
        ),
        "sklearn SelfTrainingClassifier(LogisticRegression)": SelfTrainingClassifier(
            LogisticRegression(C=C)
        ),
    }


def run(problem, C, seeds, quick):
    scores, times = {}, {}
    for seed in seeds:
        X, y_ssl, X_test, y_test = problem(seed, quick)
        labeled = y_ssl != -1
        for name, est in methods(C).items():
            start = time.perf_counter()
            if est == "supervised":
                est = LogisticRegression(C=C).fit(X[labeled], y_ssl[labeled])
            else:
                est.fit(X, y_ssl)
            times.setdefault(name, []).append(time.perf_counter() - start)
            scores.setdefault(name, []).append(est.score(X_test, y_test))
    return scores, times


def mnist(seed, n_per_class, path):
    """The first 10,000 MNIST training images; returns ``_split``'s five arrays."""
    data = np.load(path)
    X, y = data["x_train"][:10_000], data["y_train"][:10_000].astype(int)
    X_test, y_test = data["x_test"], data["y_test"].astype(int)
    X = X.reshape(len(X), -1) / 255.0
    X_test = X_test.reshape(len(X_test), -1) / 255.0
    return X, hide_labels(y, n_per_class=n_per_class, random_state=seed), X_test, y_test, y


def _supervised(X, y):
    return LogisticRegression(max_iter=1000).fit(X, y)


TIMED = {  # name: fit(X, y_ssl, y), y the true labels of all rows
    "EntropyRegularizedLogisticRegression": (
        lambda X, y_ssl, y: EntropyRegularizedLogisticRegression().fit(X, y_ssl)
    ),
    "LogisticRegression, labelled rows": (
        lambda X, y_ssl, y: _supervised(X[y_ssl != -1], y_ssl[y_ssl != -1])
    ),
    "LogisticRegression, all rows": lambda X, y_ssl, y: _supervised(X, y),
}


def _reference(path):
    """EntropyRegularizedLogisticRegression from another version of its module file."""
    name = "sklearn_ssl.linear_model._reference_entropy_logistic"  # for relative imports
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EntropyRegularizedLogisticRegression


def timing(seeds, repeats, mnist_path, reference=None):
    timed = dict(TIMED)
    if reference:
        ref_class = _reference(reference)
        name = f"reference ({os.path.basename(reference)})"
        timed[name] = lambda X, y_ssl, y: ref_class().fit(X, y_ssl)
    problems = {"digits (10 labels/class)": lambda seed: _split(load_digits, seed)}
    if os.path.exists(mnist_path):
        for n in (10, 100):
            title = f"MNIST 10k x 784 ({n} labels/class)"
            problems[title] = lambda seed, n=n: mnist(seed, n, mnist_path)
    else:
        print(f"{mnist_path} not found: MNIST skipped\n")
    names = list(timed)
    print("| problem | method | fit time (s) | time / ERLR's | L-BFGS iterations | accuracy (%) |")
    print("|---|---|---|---|---|---|")
    for title, problem in problems.items():
        times, ratios, n_iter, scores = {}, {}, {}, {}
        for seed in seeds:
            X, y_ssl, X_test, y_test, y = problem(seed)
            for rep in range(repeats):
                run_times = {}
                shift = rep % len(names)
                for name in names[shift:] + names[:shift]:  # rotate the order
                    start = time.perf_counter()
                    est = timed[name](X, y_ssl, y)
                    run_times[name] = time.perf_counter() - start
                    if rep == 0:  # the fits are deterministic
                        scores.setdefault(name, []).append(est.score(X_test, y_test))
                        n_iter.setdefault(name, []).append(int(np.sum(est.n_iter_)))
                for name in names:
                    times.setdefault(name, []).append(run_times[name])
                    ratios.setdefault(name, []).append(run_times[name] / run_times[names[0]])
        for name in names:
            print(
                f"| {title} | {name} | {np.median(times[name]):.3f} | "
                f"{np.median(ratios[name]):.3f} | {np.median(n_iter[name]):.0f} | "
                f"{100 * np.mean(scores[name]):.1f} |"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (5; --timing 3)")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 500 moons points")
    parser.add_argument(
        "--timing", action="store_true", help="fit times against LogisticRegression"
    )
    parser.add_argument("--repeats", type=int, default=3, help="--timing: fits per seed and method")
    parser.add_argument(
        "--mnist",
        default="/work/shared/data/mnist/mnist.npz",
        help="--timing: mnist.npz (keys x_train, y_train, x_test, y_test)",
    )
    parser.add_argument("--reference", help="--timing: another _entropy_logistic.py to time")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    if args.timing:
        with threadpool_limits(limits=1):
            timing(range(args.seeds or 3), args.repeats, args.mnist, args.reference)
        return
    seeds = range(2 if args.quick else args.seeds or 5)
    n_moons = 500 if args.quick else 2000
    for title, (problem, Cs) in PROBLEMS.items():
        title = title.replace("two moons", f"two moons ({n_moons} training points)")
        for C in Cs:
            # One BLAS thread: the machine is shared, and oversubscribed threads make
            # small matrix products (all methods here) erratically slow.
            with threadpool_limits(limits=1):
                scores, times = run(problem, C, seeds, args.quick)
            print(f"\n### {title}, C={C:g}, {len(seeds)} seeds\n")
            print("| method | test accuracy (%) | gain vs supervised | wins | fit time (s) |")
            print("|---|---|---|---|---|")
            baseline = 100 * np.asarray(scores["LogisticRegression (labelled rows only)"])
            for name in scores:
                acc = 100 * np.asarray(scores[name])
                gain = acc - baseline
                print(
                    f"| {name} | {acc.mean():.1f} ± {acc.std():.1f} | "
                    f"{gain.mean():+.1f} ± {gain.std():.1f} | {np.sum(gain > 0)}/{len(gain)} | "
                    f"{np.mean(times[name]):.3f} |"
                )


if __name__ == "__main__":
    main()
