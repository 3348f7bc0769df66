"""CIFAR-10 with 250 labels on WideResNet-28-2: supervised vs FixMatch (hard vs smooth).

FixMatch's CIFAR-10 recipe (Sohn et al. 2020) on a fixed budget of training steps:
25 labelled images per class, the other 49,750 training images unlabelled,
WRN-28-2 (:class:`~sklearn_ssl.neural.WideResNet`), SGD ``lr=0.03``, Nesterov
momentum 0.9, weight decay 5e-4, cosine decay ``lr * cos(7 pi k / (16 K))`` over
the ``K = --steps`` steps, batch 64, ``mu=7``, ``tau=0.95``, ``lambda_u=1``, EMA
weights (0.999) for evaluation; weak view = flip + shift, strong view =
RandAugment-style operations + Cutout (:class:`~sklearn_ssl.neural.RandAugmentCutout`).

* supervised: ``FixMatchClassifier(mu=0)`` -- the 250 labelled images only, weak
  augmentation, the same number of steps, schedule and EMA;
* ``FixMatchClassifier(threshold_mode="hard")`` -- FixMatch's mask;
* ``FixMatchClassifier(threshold_mode="smooth")`` -- Smooth Pseudo-Labeling
  (Smooth Pseudo-Labeling, arXiv:2405.14313), linear factor from 0 at tau to 1 at probability 1.

The paper trains for 2**20 steps (94.93% with 250 labels); this script is for a
budget: ``--steps`` planned steps (the cosine schedule spans them) and, with
``--budget``, a limit in seconds per fit after which training stops where it is
(the table reports the steps done), so its figures are those of a short run.
``--bf16`` wraps the network in :class:`~sklearn_ssl.neural.MixedPrecision`:
bfloat16 autocast in channels-last memory format (GPU; ``--no-channels-last``
keeps the default layout).
``--jobs`` fits several (seed, method) pairs at once in separate processes,
which share the GPU: fit times then include that sharing. Data: the JPEG copy of
CIFAR-10 (``cifar10-jpg.tar.gz`` with ``train/<class>/*.jpg`` and
``test/<class>/*.jpg``, or the folder it unpacks to); test accuracy on the
10,000 test images.
"""

import argparse
import io
import math
import os
import tarfile
import time

import numpy as np
import torch
from _neural import fixmatch_cosine, map_jobs
from skorch.callbacks import Callback

from sklearn_ssl.datasets import hide_labels

CLASSES = (
    "airplane automobile bird cat deer dog frog horse ship truck".split()
)  # the data's README order (alphabetical)


def _decode(blob):
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(blob)).convert("RGB"), dtype=np.uint8)


def load_cifar10(path):
    """Return ``X_train, y_train, X_test, y_test`` (uint8 NHWC) from the JPEG copy."""
    parts = {"train": ([], []), "test": ([], [])}

    def add(name, blob):
        pieces = name.strip("./").split("/")
        if len(pieces) < 3 or pieces[-3] not in parts or pieces[-2] not in CLASSES:
            return
        images, labels = parts[pieces[-3]]
        images.append((pieces[-1], blob))
        labels.append(CLASSES.index(pieces[-2]))

    if os.path.isdir(path):
        for root, _, files in os.walk(path):
            for file in sorted(files):
                if file.endswith(".jpg"):
                    full = os.path.join(root, file)
                    with open(full, "rb") as fh:
                        add(os.path.relpath(full, path), fh.read())
    else:
        with tarfile.open(path) as tar:
            for member in tar:
                if member.isfile() and member.name.endswith(".jpg"):
                    add(member.name, tar.extractfile(member).read())
    out = []
    for split in ("train", "test"):
        images, labels = parts[split]
        if not images:
            raise ValueError(f"No {split}/<class>/*.jpg images found in {path!r}.")
        out.append(np.stack([_decode(blob) for _, blob in images]))
        out.append(np.asarray(labels, dtype=np.int64))
    return tuple(out)


def standardise(X_train, X_test):
    """NCHW float32 from uint8 NHWC, each channel standardised with the training
    images' mean and std (the colour operations of the strong view work at any
    pixel scale)."""
    X_train = X_train.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    X_test = X_test.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    mean = X_train.mean(axis=(0, 2, 3), keepdims=True)
    std = X_train.std(axis=(0, 2, 3), keepdims=True)
    return (X_train - mean) / std, (X_test - mean) / std


class TimeBudget(Callback):
    """skorch callback: end training (as skorch does on Ctrl-C) after ``seconds``."""

    def __init__(self, seconds):
        self.seconds = seconds

    def on_train_begin(self, net, **kwargs):
        self.start_ = time.perf_counter()

    def on_batch_end(self, net, training=False, **kwargs):
        if training and time.perf_counter() - self.start_ > self.seconds:
            raise KeyboardInterrupt


def last_recorded(history, key):
    """The last epoch's value of ``key`` (an interrupted epoch records none)."""
    for row in reversed(history):
        if key in row:
            return row[key]
    return float("nan")


def make_estimator(method, args, seed, n_unlabeled):
    from sklearn_ssl.neural import (
        FixMatchClassifier,
        FlipShift,
        MixedPrecision,
        RandAugmentCutout,
        WideResNet,
    )

    module = WideResNet(in_channels=3, n_classes=10)
    if args.bf16:
        module = MixedPrecision(module, channels_last=args.channels_last)
    batch, mu = 64, (0 if method == "supervised" else 7)
    steps_per_epoch = math.ceil(250 / batch)  # as the estimator counts an epoch
    if mu:
        steps_per_epoch = max(steps_per_epoch, math.ceil(n_unlabeled / (batch * mu)))
    max_epochs = math.ceil(args.steps / steps_per_epoch)
    total = max_epochs * steps_per_epoch
    return FixMatchClassifier(
        module,
        optimizer=torch.optim.SGD,
        lr=0.03,
        optimizer__momentum=0.9,
        optimizer__nesterov=True,
        optimizer__weight_decay=5e-4,
        batch_size=batch,
        mu=mu,
        max_epochs=max_epochs,
        threshold=0.95,
        threshold_mode="smooth" if method == "smooth" else "hard",
        weak_augmentation=FlipShift(),
        strong_augmentation=RandAugmentCutout(),
        callbacks=[
            ("lr_schedule", fixmatch_cosine(total)),
            ("time_budget", TimeBudget(args.budget)),
        ],
        device=args.device,
        random_state=seed,
    ), total


def run_one(job):
    method, seed, args, data = job
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // max(args.jobs, 1)))
    torch.backends.cudnn.benchmark = True  # fixed input shapes
    X, y_ssl, X_test, y_test = data
    X, X_test = standardise(X, X_test)
    est, planned = make_estimator(method, args, seed, int(np.sum(y_ssl == -1)))
    start = time.perf_counter()
    est.fit(X, y_ssl)
    elapsed = time.perf_counter() - start
    acc = float(np.mean(est.predict(X_test) == y_test))
    mask = last_recorded(est.history, "mask_rate")
    steps = est.n_steps_
    print(
        f"  seed {seed} {method}: {100 * acc:.2f}% after {steps}/{planned} steps in "
        f"{elapsed:.0f}s "
        f"(final mask rate {mask:.2f})",
        flush=True,
    )
    return method, seed, acc, elapsed, steps, mask


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default="../shared/data/cifar10/cifar10-jpg.tar.gz")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, default=20000, help="planned steps per fit")
    parser.add_argument(
        "--budget", type=float, default=float("inf"), help="stop each fit after this many seconds"
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["supervised", "hard", "smooth"],
        choices=["supervised", "hard", "smooth"],
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast forward pass")
    parser.add_argument(
        "--no-channels-last", dest="channels_last", action="store_false", help="with --bf16"
    )
    parser.add_argument("--jobs", type=int, default=1, help="fits run at once")
    parser.add_argument("--n-train", type=int, default=None, help="subsample (smoke runs)")
    args = parser.parse_args()

    start = time.perf_counter()
    X, y, X_test, y_test = load_cifar10(args.path)
    print(f"loaded {len(X)} + {len(X_test)} images in {time.perf_counter() - start:.0f}s")
    jobs = []
    for seed in args.seeds:
        Xs, ys = X, y
        if args.n_train:
            keep = np.random.RandomState(seed).permutation(len(X))[: args.n_train]
            Xs, ys = X[keep], y[keep]
        y_ssl = hide_labels(ys, n_per_class=25, random_state=seed)
        # uint8 images travel to the worker processes (a quarter of float32's size).
        jobs += [(m, seed, args, (Xs, y_ssl, X_test, y_test)) for m in args.methods]
    results = map_jobs(run_one, jobs, args.jobs)

    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device
    print(
        f"\nCIFAR-10 (JPEG copy), 250 labels, WRN-28-2, {args.steps} steps, device={device}, "
        f"bf16={args.bf16}, {args.jobs} fit(s) at once, seeds {args.seeds}\n"
    )
    print("| method | test accuracy (%) | steps done | final mask rate | fit time (s) |")
    print("|---|---|---|---|---|")
    names = {
        "supervised": "supervised (labelled rows only, mu=0)",
        "hard": "FixMatchClassifier(threshold_mode='hard')",
        "smooth": "FixMatchClassifier(threshold_mode='smooth')",
    }
    for method in args.methods:
        rows = [r for r in results if r[0] == method]
        acc = 100 * np.array([r[2] for r in rows])
        sec = np.array([r[3] for r in rows])
        mask = np.array([r[5] for r in rows])
        steps = np.array([r[4] for r in rows])
        print(
            f"| {names[method]} | {acc.mean():.2f} ± {acc.std():.2f} | {steps.mean():.0f} | "
            f"{mask[~np.isnan(mask)].mean() if (~np.isnan(mask)).any() else float('nan'):.2f} | "
            f"{sec.mean():.0f} |"
        )


if __name__ == "__main__":
    main()
