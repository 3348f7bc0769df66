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
* ``EntropyRegularizedLogisticRegression`` with its defaults (``lambda_=1``,
  ``class_balance=1``, 5 annealing steps), and two ablations: ``class_balance=0``
  (the plain Grandvalet & Bengio criterion) and ``annealing_steps=1`` (straight
  from the supervised solution to ``lambda_``);
* scikit-learn's ``SelfTrainingClassifier(LogisticRegression)`` (the peer).

Prints one markdown table per problem and ``C`` (two moons at three values of
``C``): test accuracy (mean ± std over seeds), the gain over the supervised
baseline on the same seed (mean ± std; wins = seeds where it is higher) and fit
time (one BLAS thread for every method). Run
``python benchmarks/bench_entropy_logistic.py --quick`` for a smoke run.
"""

import argparse
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


def _real(loader, seed):
    X, y = loader(return_X_y=True)
    X, X_test, y, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(X)
    y_ssl = hide_labels(y, n_per_class=10, random_state=seed)
    return scaler.transform(X), y_ssl, scaler.transform(X_test), y_test


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="number of seeds (default 5)")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 500 moons points")
    args = parser.parse_args()
    seeds = range(2 if args.quick else args.seeds)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
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
