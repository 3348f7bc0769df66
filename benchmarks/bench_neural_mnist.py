"""MNIST with 1000 class-balanced labels: supervised vs PseudoLabel vs Mean Teacher vs FixMatch.

All neural methods use the seed-000 CNN (``SmallCNN``: two 5x5 convolutions, 640
-> 150 -> 10, dropout) on pixels scaled to [0, 1], 100 labels per class, the rest
of the training images unlabelled; test accuracy on the 10000 test images.
Seed 000 reports 95.57% supervised and 98.46% with pseudo-labels.

* ``MLPClassifier`` (scikit-learn, 150 hidden units) on the 1000 labelled images
  -- scikit-learn's supervised baseline;
* ``SelfTrainingClassifier(MLPClassifier)`` (scikit-learn's peer, at most 3
  rounds; skipped with ``--no-peer``);
* supervised CNN: ``FixMatchClassifier(mu=0, weak_augmentation=None)`` -- the
  labelled images only, no augmentation;
* ``PseudoLabelClassifier`` -- Lee's alpha(t) (T1, T2 in steps, alpha_f=3);
* ``MeanTeacherClassifier`` -- shift augmentation as noise, consistency 100;
* ``FixMatchClassifier`` -- weak: shift (no flip, digits are not symmetric);
  strong: RandAugment-style operations + Cutout (no flip); tau=0.95, mu=7.
  ``--strong-magnitude`` and ``--cutout`` make the strong view milder, ``--dropout``
  changes the CNN's dropout (every CNN method).

Full mode (for a GPU): all 60000 training images, Adam ``lr=1e-3``, batch 64,
``--epochs`` epochs (an epoch is one pass over the unlabelled images). Quick mode
(CPU, a few minutes on 2 cores): 6000 training images (1000 labelled), batch 32,
``mu=3``, 3 epochs, T1/T2 scaled down -- a smoke run whose figures are far from
converged. Prints a markdown table of test accuracy (mean ± std over seeds) and
fit time. ``--jobs N`` fits N (method, seed) pairs at once in separate processes
(they share the GPU, so fit times then include that sharing).
"""

import argparse
import os
import time
import warnings

import numpy as np
import torch
from _neural import fixmatch_cosine, map_jobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.semi_supervised import SelfTrainingClassifier

from sklearn_ssl.datasets import hide_labels
from sklearn_ssl.neural import (
    FixMatchClassifier,
    FlipShift,
    MeanTeacherClassifier,
    PseudoLabelClassifier,
    RandAugmentCutout,
)


def load(path, n_train, seed):
    data = np.load(path)
    X, y = data["x_train"], data["y_train"].astype(np.int64)
    X_test, y_test = data["x_test"], data["y_test"].astype(np.int64)
    rng = np.random.RandomState(seed)
    if n_train < len(X):
        keep = rng.permutation(len(X))[:n_train]
        X, y = X[keep], y[keep]
    X = (X[:, None] / 255.0).astype(np.float32)
    X_test = (X_test[:, None] / 255.0).astype(np.float32)
    y_ssl = hide_labels(y, n_per_class=100, random_state=seed)
    return X, y_ssl, X_test, y_test


class _Supervised:
    """Fit a scikit-learn classifier on the flattened labelled images only."""

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y):
        labeled = y != -1
        self.estimator.fit(X[labeled].reshape(labeled.sum(), -1), y[labeled])
        return self

    def predict(self, X):
        return self.estimator.predict(X.reshape(len(X), -1))


class _Flat:
    """Give a scikit-learn estimator flattened images."""

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y):
        self.estimator.fit(X.reshape(len(X), -1), y)
        return self

    def predict(self, X):
        return self.estimator.predict(X.reshape(len(X), -1))


def methods(args):
    quick = args.quick
    net = dict(
        lr=1e-3,
        batch_size=32 if quick else 64,
        mu=3 if quick else 7,
        max_epochs=args.epochs,
        device=args.device,
    )
    if args.dropout is not None:
        net["module__dropout"] = args.dropout  # SmallCNN's dropout (Anirudh S.'s blog post: 0.5)
    t1, t2 = (20, 120) if quick else (1000, 6000)
    steps_labeled = -(-1000 // net["batch_size"])
    steps_unlabeled = -(-(args.n_train - 1000) // (net["batch_size"] * net["mu"]))
    # The labelled-only CNN runs as many steps as the semi-supervised ones.
    sup = {**net, "mu": 0, "max_epochs": args.epochs * steps_unlabeled // steps_labeled}
    if args.schedule == "cosine":
        steps = args.epochs * max(steps_labeled, steps_unlabeled)
        net["callbacks"] = [("lr_decay", fixmatch_cosine(steps))]
        sup["callbacks"] = [("lr_decay", fixmatch_cosine(sup["max_epochs"] * steps_labeled))]
    weak = FlipShift(flip=False)
    mlp = dict(hidden_layer_sizes=(150,), max_iter=200)
    out = {
        "MLPClassifier (labelled rows only)": lambda s: _Supervised(
            MLPClassifier(**mlp, random_state=s)
        ),
    }
    if not args.no_peer:
        out["SelfTrainingClassifier(MLPClassifier)"] = lambda s: _Flat(
            SelfTrainingClassifier(MLPClassifier(**mlp, random_state=s), max_iter=3)
        )
    out.update(
        {
            "CNN, labelled rows only": lambda s: FixMatchClassifier(
                weak_augmentation=None, **sup, random_state=s
            ),
            "PseudoLabelClassifier": lambda s: PseudoLabelClassifier(
                rampup_start=t1, rampup_end=t2, **net, random_state=s
            ),
            "MeanTeacherClassifier": lambda s: MeanTeacherClassifier(
                weak_augmentation=weak,
                consistency_weight=100,
                rampup_length=t2,
                **net,
                random_state=s,
            ),
            "FixMatchClassifier": lambda s: FixMatchClassifier(
                weak_augmentation=weak,
                strong_augmentation=RandAugmentCutout(
                    flip=False, magnitude=args.strong_magnitude, cutout=args.cutout
                ),
                **net,
                random_state=s,
            ),
        }
    )
    return out


def run_one(job):
    """Fit one (method, seed) pair; returns its test accuracy and fit time."""
    name, seed, args = job
    if args.jobs > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 2) // args.jobs))
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    torch.backends.cudnn.benchmark = True  # fixed input shapes
    X, y_ssl, X_test, y_test = load(args.path, args.n_train, seed)
    est = methods(args)[name](seed)
    start = time.perf_counter()
    est.fit(X, y_ssl)
    elapsed = time.perf_counter() - start
    acc = float(np.mean(est.predict(X_test) == y_test))
    print(f"  seed {seed} {name}: {100 * acc:.2f}% in {elapsed:.0f}s", flush=True)
    return name, seed, acc, elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default="../shared/data/mnist/mnist.npz")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default 0 1 2")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="CPU smoke run, a few minutes")
    parser.add_argument("--no-peer", action="store_true", help="skip SelfTrainingClassifier")
    parser.add_argument(
        "--only", nargs="+", default=None, help="run only methods whose name has one of these"
    )
    parser.add_argument(
        "--schedule",
        choices=["constant", "cosine"],
        default="constant",
        help="learning rate of the CNN methods: constant, or FixMatch's cosine decay",
    )
    parser.add_argument("--jobs", type=int, default=1, help="fits run at once (processes)")
    parser.add_argument(
        "--strong-magnitude",
        type=float,
        default=1.0,
        help="FixMatch's strong view: RandAugmentCutout magnitude (1 = FixMatch's setting)",
    )
    parser.add_argument(
        "--cutout", type=float, default=0.5, help="FixMatch's strong view: largest Cutout side"
    )
    parser.add_argument(
        "--dropout", type=float, default=None, help="dropout of the CNN (default: Anirudh S.'s 0.5)"
    )
    args = parser.parse_args()
    if args.quick:
        args.seeds = args.seeds or [0]
        args.epochs = args.epochs or 3
        args.n_train = 6000
    else:
        args.seeds = args.seeds or [0, 1, 2]
        args.epochs = args.epochs or 50
        args.n_train = 60000

    jobs = [
        (name, seed, args)
        for seed in args.seeds
        for name in methods(args)
        if not args.only or any(part in name for part in args.only)
    ]
    results = map_jobs(run_one, jobs, args.jobs)

    mode = "quick" if args.quick else "full"
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device
    print(
        f"\nMNIST, {args.n_train} training images (1000 labelled), 10000 test images, {mode} "
        f"mode, {args.epochs} epochs, {args.schedule} lr, device={device}, seeds {args.seeds}, "
        f"{args.jobs} fit(s) at once, FixMatch strong view: magnitude {args.strong_magnitude}, "
        f"cutout {args.cutout}, CNN dropout {0.5 if args.dropout is None else args.dropout}\n"
    )
    print("| method | test accuracy (%) | fit time (s) |")
    print("|---|---|---|")
    for name in dict.fromkeys(r[0] for r in results):
        acc = 100 * np.array([r[2] for r in results if r[0] == name])
        sec = np.array([r[3] for r in results if r[0] == name])
        print(f"| {name} | {acc.mean():.2f} ± {acc.std():.2f} | {sec.mean():.0f} |")


if __name__ == "__main__":
    main()
