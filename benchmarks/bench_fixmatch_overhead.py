"""Overhead of FixMatchClassifier's training step against a plain PyTorch loop.

The plain loop is written after Sohn et al.'s (2020) reference loop and does the same work
per step as ``FixMatchClassifier``: draw ``B`` labelled and ``mu * B`` unlabelled
rows from tensors on the device, weak-augment labelled + unlabelled rows,
strong-augment the unlabelled ones (the same tensor augmentations), one forward
pass over the concatenation, supervised cross-entropy + thresholded
pseudo-label cross-entropy, backward, optimizer step, EMA update of a weight
copy. What differs is what skorch and the estimator add around it: callbacks
(loss and mask-rate logging, EMA as a callback), history, ``loss.item()`` per
step, parameter bookkeeping.

Throughput is rows (labelled + unlabelled) per second over whole epochs; both
sides run the same number of steps per epoch, alternating (ours, plain, ours,
plain, ...) so that load from other processes hits both alike; the table shows
the fastest epoch of each (load only ever slows an epoch down), and the ratio
of the median epochs (less sensitive to one lucky epoch). Two models: the
seed-000 CNN on 1x28x28 inputs and a small MLP on 20 features (where fixed
per-step costs weigh most). Data are random (only speed is measured). ``--quick`` runs fewer steps.
"""

import argparse
import copy
import time

import numpy as np
import torch
from torch.nn import functional as F

from sklearn_ssl.neural import (
    MLP,
    FeatureCorruption,
    FixMatchClassifier,
    FlipShift,
    GaussianNoise,
    RandAugmentCutout,
    SmallCNN,
)


def problem(kind, n_rows, n_labeled, seed):
    rng = np.random.RandomState(seed)
    if kind == "cnn":
        X = rng.rand(n_rows, 1, 28, 28).astype(np.float32)
        return X, rng.randint(0, 10, n_rows), 10
    X = rng.randn(n_rows, 20).astype(np.float32)
    return X, rng.randint(0, 2, n_rows), 2


def make_module(kind, n_classes):
    if kind == "cnn":
        return SmallCNN(in_channels=1, n_classes=n_classes, image_size=28)
    return MLP(20, n_classes, (64, 64))


def augmentations(kind):
    if kind == "cnn":
        return FlipShift(flip=False), RandAugmentCutout(flip=False)
    return GaussianNoise(0.05), FeatureCorruption()


def plain_epochs(
    kind, X, y, labeled, n_classes, batch, mu, n_steps, n_epochs, device, seed, item=False
):
    """Seed 004's FixMatch loop, on tensors; returns seconds per epoch.

    ``item=True`` reads the loss back to the host at every step, as skorch's fit
    loop does to record it (on a GPU, a synchronisation per step).
    """
    torch.manual_seed(seed)
    model = make_module(kind, n_classes).to(device)
    ema = copy.deepcopy(model)
    for p in ema.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    weak, strong = augmentations(kind)
    X_dev = torch.as_tensor(X, device=device)
    y_dev = torch.as_tensor(y, device=device)
    idx_l = torch.as_tensor(np.flatnonzero(labeled))
    idx_u = torch.as_tensor(np.flatnonzero(~labeled))
    tau, lam, decay = 0.95, 1.0, 0.999
    times = []
    for _ in range(n_epochs):
        start = time.perf_counter()
        for step in range(n_steps):
            il = idx_l[torch.randint(len(idx_l), (batch,))].to(device)
            iu = idx_u[torch.randint(len(idx_u), (mu * batch,))].to(device)
            x_l, y_l, x_u = X_dev[il], y_dev[il], X_dev[iu]
            model.train()
            inputs = torch.cat([weak(torch.cat([x_l, x_u])), strong(x_u)])
            logits = model(inputs)
            l_logits = logits[:batch]
            u_w_logits, u_s_logits = logits[batch:].chunk(2)
            loss_s = F.cross_entropy(l_logits, y_l)
            with torch.no_grad():
                probs_w = F.softmax(u_w_logits, dim=-1)
                max_probs, pseudo = probs_w.max(dim=-1)
                mask = (max_probs >= tau).float()
            loss_u = (F.cross_entropy(u_s_logits, pseudo, reduction="none") * mask).mean()
            loss = loss_s + lam * loss_u
            opt.zero_grad()
            loss.backward()
            opt.step()
            if item:
                loss.item()
            with torch.no_grad():
                d = min(decay, (1 + step) / (10 + step))
                torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1 - d)
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def ours_epochs(kind, X, y_ssl, n_classes, batch, mu, n_epochs, device, seed):
    weak, strong = augmentations(kind)
    clf = FixMatchClassifier(
        make_module(kind, n_classes),
        batch_size=batch,
        mu=mu,
        max_epochs=n_epochs,
        weak_augmentation=weak,
        strong_augmentation=strong,
        device=device,
        random_state=seed,
    ).fit(X, y_ssl)
    return clf.history[:, "dur"], clf.steps_per_epoch_


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--steps", type=int, default=None, help="steps per epoch (default 10 CNN, 50 MLP)"
    )
    parser.add_argument(
        "--item-loop",
        action="store_true",
        help="also time the plain loop with skorch's per-step loss.item()",
    )
    parser.add_argument("--models", nargs="+", choices=["cnn", "mlp"], default=["cnn", "mlp"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batch, mu = 64, 7
    print(f"\nFixMatch step overhead, device={args.device}, torch threads={args.threads}\n")
    extra = " plain + loss.item() (rows/s) | ratio to it |" if args.item_loop else ""
    print(
        "| model | rows/step | steps/epoch | ours (rows/s) | plain loop (rows/s) | ratio "
        "| ratio of median epochs |" + extra
    )
    print("|---|---|---|---|---|---|---|" + "---|---|" * bool(args.item_loop))
    for kind in args.models:
        n_steps = (5 if args.quick else 10) if kind == "cnn" else (20 if args.quick else 50)
        n_steps = args.steps or n_steps
        n_labeled = 200  # fewer labelled batches than unlabelled ones per epoch
        n_rows = n_labeled + n_steps * mu * batch
        ours, plain, plain_item = [], [], []
        for seed in range(args.seeds):
            X, y, n_classes = problem(kind, n_rows, n_labeled, seed)
            labeled = np.zeros(n_rows, dtype=bool)
            labeled[:n_labeled] = True
            y_ssl = np.where(labeled, y, -1)
            for _ in range(args.rounds):
                durs, steps = ours_epochs(
                    kind, X, y_ssl, n_classes, batch, mu, 3, args.device, seed
                )
                assert steps == n_steps
                ours += list(durs[1:])  # the first epoch includes warm-up
                durs = plain_epochs(
                    kind, X, y, labeled, n_classes, batch, mu, n_steps, 3, args.device, seed
                )
                plain += durs[1:]
                if args.item_loop:
                    durs = plain_epochs(
                        kind,
                        X,
                        y,
                        labeled,
                        n_classes,
                        batch,
                        mu,
                        n_steps,
                        3,
                        args.device,
                        seed,
                        item=True,
                    )
                    plain_item += durs[1:]
        rows = n_steps * batch * (1 + mu)
        # The fastest epoch of each: on a shared machine, load from other processes
        # only ever slows an epoch down.
        r_ours, r_plain = rows / np.min(ours), rows / np.min(plain)
        # The median epochs too: on a machine whose speed drifts, the two fastest
        # epochs can come from different moments; the medians weigh all epochs.
        median_ratio = np.median(plain) / np.median(ours)
        print(
            f"| {kind} | {batch * (1 + mu)} | {n_steps} | {r_ours:.0f} | {r_plain:.0f} | "
            f"{r_ours / r_plain:.3f} | {median_ratio:.3f} |"
            + (
                f" {rows / np.min(plain_item):.0f} | {np.min(plain_item) / np.min(ours):.3f} |"
                if args.item_loop
                else ""
            )
        )


if __name__ == "__main__":
    main()
