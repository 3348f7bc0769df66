"""Scale benchmark of the graph family: time, peak memory and transductive accuracy.

Data: ``make_classification(N, n_features=32, n_informative=16, n_classes=10,
n_clusters_per_class=2)`` with 1% of the rows labelled, or with ``--data mnist``
N rows of MNIST's 70,000 images (train and test; PCA to 50 dimensions fitted on
all of them, outside the clock) with 1% labelled. Every configuration runs in its
own subprocess, so its peak memory (``ru_maxrss``: the whole process, data
included) is measured alone; for each size and seed the methods run one after
the other, so a slow spell of a shared machine falls on all of them.
scikit-learn's ``LabelSpreading(kernel="knn", n_neighbors=10)`` runs in the same
session up to ``--sklearn-max`` rows, the slow methods up to the sizes in
``METHODS`` unless ``--all-sizes``.

The ``*_auto`` methods are the estimators' defaults (``neighbors="auto"``); the
other methods name their backend.

Examples
--------
python benchmarks/bench_graph_scale.py --quick
python benchmarks/bench_graph_scale.py --sizes 10000 50000 200000 1000000 --seeds 0 1 2
python benchmarks/bench_graph_scale.py --sizes 20000 50000 --methods ls_exact ls_ivf --median
python benchmarks/bench_graph_scale.py --data mnist --sizes 50000 --methods ls_exact ls_ivf
"""

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

DEFAULT_MNIST = (
    Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist" / "mnist.npz"
)

# name -> (constructor source, max N it runs at by default)
METHODS = {
    "supervised LogisticRegression (labelled rows only)": ("supervised", None),
    "scikit-learn LabelSpreading knn": ("sklearn_ls", 200_000),
    "LabelSpreading exact": ("ls_exact", 50_000),
    "LabelSpreading hnsw": ("ls_hnsw", 50_000),
    "LabelSpreading ivf": ("ls_ivf", 200_000),
    "LocalLabelPropagation exact": ("llp_exact", 200_000),
    "LocalLabelPropagation ivf": ("llp_ivf", None),
    "LabelSpreading auto": ("ls_auto", 200_000),
    "LocalLabelPropagation auto": ("llp_auto", None),
    "LabelPropagation exact": ("lp_exact", 50_000),
    "LabelPropagation ivf": ("lp_ivf", 200_000),
    "LabelPropagation auto": ("lp_auto", 200_000),
}
# Run when --methods is not given.
DEFAULT_METHODS = (
    "supervised",
    "sklearn_ls",
    "ls_exact",
    "ls_hnsw",
    "ls_ivf",
    "llp_exact",
    "llp_ivf",
)


def _make_estimator(key, seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.semi_supervised import LabelSpreading as SkLabelSpreading

    from sklearn_ssl.graph import LabelPropagation, LabelSpreading, LocalLabelPropagation

    if key == "supervised":
        return LogisticRegression(max_iter=1000)
    if key == "sklearn_ls":
        return SkLabelSpreading(kernel="knn", n_neighbors=10)
    if key == "ls_exact":
        return LabelSpreading(n_neighbors=10, neighbors="exact")
    if key == "ls_auto":
        return LabelSpreading(n_neighbors=10, random_state=seed)
    if key == "ls_hnsw":
        return LabelSpreading(n_neighbors=10, neighbors="hnsw", random_state=seed)
    if key == "ls_ivf":
        return LabelSpreading(n_neighbors=10, neighbors="ivf", random_state=seed)
    if key == "llp_exact":
        return LocalLabelPropagation(neighbors="exact")
    if key == "llp_ivf":
        return LocalLabelPropagation(neighbors="ivf", random_state=seed)
    if key == "llp_auto":
        return LocalLabelPropagation(random_state=seed)
    if key == "lp_exact":
        return LabelPropagation(n_neighbors=10, neighbors="exact")
    if key == "lp_ivf":
        return LabelPropagation(n_neighbors=10, neighbors="ivf", random_state=seed)
    if key == "lp_auto":
        return LabelPropagation(n_neighbors=10, random_state=seed)
    raise ValueError(key)


def _mnist_pca(path):
    """MNIST's 70,000 images (train and test) in 50 PCA dimensions, and their labels.

    Cached in the temporary folder: every run is a fresh process.
    """
    import tempfile

    from sklearn.decomposition import PCA

    cache = Path(tempfile.gettempdir()) / "sklearn_ssl_bench_mnist_pca50.npz"
    if cache.exists():
        with np.load(cache) as data:
            return data["X"], data["y"]
    with np.load(path) as data:
        X = np.concatenate([data["x_train"], data["x_test"]]).reshape(-1, 784) / 255.0
        y = np.concatenate([data["y_train"], data["y_test"]]).astype(np.int64)
    X = PCA(50, random_state=0).fit_transform(X)
    np.savez(cache, X=X, y=y)
    return X, y


def make_data(n_samples, seed, data="classification", mnist=None):
    """The rows of one run: ``X``, ``y``."""
    if data == "mnist":
        X, y = _mnist_pca(mnist)
        if n_samples > X.shape[0]:
            raise ValueError(f"MNIST has {X.shape[0]} rows; asked for {n_samples}.")
        rows = np.random.RandomState(seed).permutation(X.shape[0])[:n_samples]
        return X[rows], y[rows]
    from sklearn.datasets import make_classification

    return make_classification(
        n_samples,
        n_features=32,
        n_informative=16,
        n_classes=10,
        n_clusters_per_class=2,
        random_state=seed,
    )


def run_one(key, n_samples, seed, data="classification", mnist=None):
    """Run one configuration in this process; return a dict of measurements."""
    from sklearn_ssl.datasets import hide_labels

    X, y = make_data(n_samples, seed, data, mnist)
    y_ssl = hide_labels(y, n_labeled=0.01, random_state=seed)
    unlabeled = y_ssl == -1
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    est = _make_estimator(key, seed)
    if key.endswith(("_ivf", "_hnsw", "_auto")):
        # Import faiss (~0.1 s) before the clock starts, as scikit-learn's modules are.
        import faiss  # noqa: F401
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cpu_start = time.process_time()
        start = time.perf_counter()
        if key == "supervised":
            est.fit(X[~unlabeled], y_ssl[~unlabeled])
            pred = est.predict(X[unlabeled])
        else:
            est.fit(X, y_ssl)
            pred = est.transduction_[unlabeled]
        seconds = time.perf_counter() - start
        cpu_seconds = time.process_time() - cpu_start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_gb": peak,
        "data_gb": rss_data,
        "accuracy": float(np.mean(pred == y[unlabeled])),
        "backend": str(getattr(est, "neighbors_backend_", "")),
    }


def run_subprocess(key, n_samples, seed, timeout, data="classification", mnist=None):
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        json.dumps([key, n_samples, seed, data, None if mnist is None else str(mnist)]),
    ]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    except subprocess.CalledProcessError as exc:
        print(exc.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt(values, spec, median=False):
    values = np.asarray(values, dtype=float)
    if len(values) == 1:
        return format(values[0], spec)
    if median:
        low, high = format(values.min(), spec), format(values.max(), spec)
        return f"{format(np.median(values), spec)} [{low}, {high}]"
    return f"{format(values.mean(), spec)} ± {format(values.std(), spec)}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10_000, 50_000, 200_000, 1_000_000]
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--sklearn-max", type=int, default=200_000)
    parser.add_argument(
        "--methods",
        nargs="+",
        default=list(DEFAULT_METHODS),
        choices=[k for k, _ in METHODS.values()],
        help="method keys",
    )
    parser.add_argument(
        "--all-sizes", action="store_true", help="run every method at every size (no limits)"
    )
    parser.add_argument(
        "--median", action="store_true", help="fit time as median [min, max], not mean ± std"
    )
    parser.add_argument("--data", choices=["classification", "mnist"], default="classification")
    parser.add_argument("--mnist", type=Path, default=DEFAULT_MNIST, help="path to mnist.npz")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per configuration")
    parser.add_argument("--quick", action="store_true", help="10k and 50k rows, one seed")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(run_one(*json.loads(args.worker))))
        return
    if args.quick:
        args.sizes, args.seeds = [10_000, 50_000], [0]
    keys = [k for k, _ in METHODS.values() if k in args.methods]
    limits = {k: None if args.all_sizes else lim for k, lim in METHODS.values()}
    limits["sklearn_ls"] = args.sklearn_max
    names = {k: name for name, (k, _) in METHODS.items()}
    mnist = args.mnist.resolve() if args.data == "mnist" else None

    data = "make_classification" if args.data == "classification" else "MNIST PCA(50)"
    time_stat = "median [min, max]" if args.median else "mean ± std"
    print(
        f"{data}; seeds {args.seeds}; 1% labelled; time of fit ({time_stat}), wall-clock and "
        "CPU (all threads); peak RSS of the process (data incl.)"
    )
    print()
    print(
        "| N | method | accuracy (unlabelled rows) | Δ accuracy vs exact (same seed) |"
        " fit time (s) | CPU time (s) | peak memory (GB) | speed-up vs scikit-learn |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        todo = [k for k in keys if limits[k] is None or n <= limits[k]]
        runs = {k: [] for k in todo}
        for s in args.seeds:  # the methods in turn for each seed: a slow spell hits them all
            for key in todo:
                result = run_subprocess(key, n, s, args.timeout, args.data, mnist)
                if result is not None:
                    runs[key].append({**result, "seed": s})
        sk_time = None
        for key in todo:
            if not runs[key]:
                print(f"| {n:,} | {names[key]} | failed or > {args.timeout:.0f} s | | | | | |")
                continue
            t = [r["seconds"] for r in runs[key]]
            if key == "sklearn_ls":
                sk_time = np.median(t) if args.median else np.mean(t)
            mine = np.median(t) if args.median else np.mean(t)
            speedup = f"{sk_time / mine:.1f}×" if sk_time and key != "sklearn_ls" else ""
            name = names[key]
            backends = sorted({r["backend"] for r in runs[key]} - {""})
            if key.endswith("_auto") and backends:
                name += f" (chose {', '.join(backends)})"
            # Paired with the same family's exact search on the same seeds (the
            # seeds' spread of accuracy is larger than the backends' difference).
            exact = {r["seed"]: r["accuracy"] for r in runs.get(key.split("_")[0] + "_exact", [])}
            diffs = [r["accuracy"] - exact[r["seed"]] for r in runs[key] if r["seed"] in exact]
            paired = ""
            if diffs and not key.endswith("_exact"):
                paired = f"{np.mean(diffs):+.4f} [{min(diffs):+.4f}, {max(diffs):+.4f}]"
            print(
                f"| {n:,} | {name} | {fmt([r['accuracy'] for r in runs[key]], '.3f')} | "
                f"{paired} | {fmt(t, '.2f', args.median)} | "
                f"{fmt([r['cpu_seconds'] for r in runs[key]], '.2f', args.median)} | "
                f"{fmt([r['peak_gb'] for r in runs[key]], '.2f')} | {speedup} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
