"""Neural semi-supervised classifiers on two moons with 3 labels per class.

Seed 000 reports that Lee's pseudo-labels fail on two moons with 6 labels while
consistency methods succeed. Data: ``make_moons(2000, noise=0.1)`` for training
(6 labelled rows, the rest unlabelled), 1000 fresh points for testing, both
standardised with a scaler fitted on the training rows. Every neural method uses
the same MLP (two hidden layers of 64), AdamW, ``lr=3e-3``, labelled batch 32
and ``mu=7``:

* ``MLPClassifier`` (scikit-learn) on the 6 labelled rows -- supervised baseline;
* ``FixMatchClassifier(mu=0)`` -- our net on the labelled rows only, with the
  weak (noise) augmentation and as many steps: the supervised baseline of
  the same network;
* ``SelfTrainingClassifier(MLPClassifier)`` -- scikit-learn's peer;
* ``PseudoLabelClassifier`` -- Lee's alpha(t), T1=100, T2=600 steps, alpha_f=3;
* ``MeanTeacherClassifier`` -- Gaussian input noise 0.2 std, consistency 1000,
  300-step ramp-up;
* ``FixMatchClassifier`` with its tabular defaults (weak: noise 0.05 std;
  strong: ``FeatureCorruption``, noise 0.15 std and 10% of entries swapped in
  from other rows);
* ``FixMatchClassifier`` with a noise-only strong view (``GaussianNoise(0.2)``)
  and distribution alignment -- on two features a swapped coordinate moves a
  point to another region of the plane, so the swap corrupts its pseudo-label;
* the same with the smooth threshold (Smooth Pseudo-Labeling, arXiv:2405.14313, linear).

Prints a markdown table: test accuracy (mean ± std over seeds) and fit time.
Torch runs on one CPU thread. ``--quick`` runs 2 seeds and fewer epochs.
"""

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.semi_supervised import SelfTrainingClassifier

from sklearn_ssl.datasets import hide_labels
from sklearn_ssl.neural import (
    FixMatchClassifier,
    GaussianNoise,
    MeanTeacherClassifier,
    PseudoLabelClassifier,
)


def data(seed):
    X, y = make_moons(n_samples=2000, noise=0.1, random_state=seed)
    X_test, y_test = make_moons(n_samples=1000, noise=0.1, random_state=10_000 + seed)
    scaler = StandardScaler().fit(X)
    y_ssl = hide_labels(y, n_per_class=3, random_state=seed)
    return scaler.transform(X), y_ssl, scaler.transform(X_test), y_test


def methods(epochs):
    net = dict(hidden_layer_sizes=(64, 64), lr=3e-3, batch_size=32, max_epochs=epochs)
    mlp = dict(hidden_layer_sizes=(64, 64), max_iter=2000)
    mt = dict(weak_augmentation=GaussianNoise(0.2), consistency_weight=1000, rampup_length=300)
    return {
        "MLPClassifier (labelled rows only)": lambda s: _Supervised(
            MLPClassifier(**mlp, random_state=s)
        ),
        "our net, mu=0 (labelled rows only)": lambda s: FixMatchClassifier(
            # 6 labelled rows make a 1-step epoch; 9x the epochs = the others' steps.
            mu=0,
            **{**net, "max_epochs": 9 * epochs},
            random_state=s,
        ),
        "SelfTrainingClassifier(MLPClassifier)": lambda s: SelfTrainingClassifier(
            MLPClassifier(**mlp, random_state=s)
        ),
        "PseudoLabelClassifier": lambda s: PseudoLabelClassifier(**net, random_state=s),
        "MeanTeacherClassifier": lambda s: MeanTeacherClassifier(**mt, **net, random_state=s),
        "FixMatchClassifier (tabular defaults)": lambda s: FixMatchClassifier(
            **net, random_state=s
        ),
        "FixMatchClassifier (noise strong view, DA)": lambda s: FixMatchClassifier(
            strong_augmentation=GaussianNoise(0.2),
            distribution_alignment=True,
            **net,
            random_state=s,
        ),
        "FixMatchClassifier (noise, DA, smooth tau=0.8)": lambda s: FixMatchClassifier(
            strong_augmentation=GaussianNoise(0.2),
            distribution_alignment=True,
            threshold=0.8,
            threshold_mode="smooth",
            **net,
            random_state=s,
        ),
    }


class _Supervised:
    """Fit a scikit-learn classifier on the labelled rows only."""

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y):
        labeled = y != -1
        self.estimator.fit(X[labeled], y[labeled])
        return self

    def predict(self, X):
        return self.estimator.predict(X)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--quick", action="store_true", help="2 seeds, 40 epochs")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.epochs = 2, 40
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

    results = {}
    for seed in range(args.seeds):
        X, y_ssl, X_test, y_test = data(seed)
        for name, make in methods(args.epochs).items():
            est = make(seed)
            start = time.perf_counter()
            est.fit(X, y_ssl)
            elapsed = time.perf_counter() - start
            acc = float(np.mean(est.predict(X_test) == y_test))
            results.setdefault(name, []).append((acc, elapsed))

    print(
        f"\nTwo moons, 2000 training points (6 labelled), 1000 test points, "
        f"{args.seeds} seeds, {args.epochs} epochs\n"
    )
    print("| method | test accuracy | seeds > 95% | fit time (s) |")
    print("|---|---|---|---|")
    for name, rows in results.items():
        acc = np.array([r[0] for r in rows])
        sec = np.array([r[1] for r in rows])
        print(
            f"| {name} | {100 * acc.mean():.1f} ± {100 * acc.std():.1f} | "
            f"{int((acc > 0.95).sum())}/{len(acc)} | {sec.mean():.1f} |"
        )


if __name__ == "__main__":
    main()
