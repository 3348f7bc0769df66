"""Scale benchmark of the graph family: time, peak memory and transductive accuracy.

Data: ``make_classification(N, n_features=32, n_informative=16, n_classes=10,
n_clusters_per_class=2)`` with 1% of the rows labelled. Every configuration runs
in its own subprocess, so its peak memory (``ru_maxrss``: the whole process,
data included) is measured alone. scikit-learn's ``LabelSpreading(kernel="knn",
n_neighbors=10)`` runs in the same session up to ``--sklearn-max`` rows.

Examples
--------
python benchmarks/bench_graph_scale.py --quick
python benchmarks/bench_graph_scale.py --sizes 10000 50000 200000 1000000 --seeds 0 1 2
"""

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings

import numpy as np

# name -> (constructor source, max N it runs at by default)
METHODS = {
    "supervised LogisticRegression (labelled rows only)": ("supervised", None),
    "scikit-learn LabelSpreading knn": ("sklearn_ls", 200_000),
    "LabelSpreading exact": ("ls_exact", 50_000),
    "LabelSpreading hnsw": ("ls_hnsw", 50_000),
    "LabelSpreading ivf": ("ls_ivf", 200_000),
    "LocalLabelPropagation exact": ("llp_exact", 200_000),
    "LocalLabelPropagation ivf": ("llp_ivf", None),
}


def _make_estimator(key, seed):
    from sklearn.linear_model import LogisticRegression
    from sklearn.semi_supervised import LabelSpreading as SkLabelSpreading

    from sklearn_ssl.graph import LabelSpreading, LocalLabelPropagation

    if key == "supervised":
        return LogisticRegression(max_iter=1000)
    if key == "sklearn_ls":
        return SkLabelSpreading(kernel="knn", n_neighbors=10)
    if key == "ls_exact":
        return LabelSpreading(n_neighbors=10)
    if key == "ls_hnsw":
        return LabelSpreading(n_neighbors=10, neighbors="hnsw", random_state=seed)
    if key == "ls_ivf":
        return LabelSpreading(n_neighbors=10, neighbors="ivf", random_state=seed)
    if key == "llp_exact":
        return LocalLabelPropagation()
    if key == "llp_ivf":
        return LocalLabelPropagation(neighbors="ivf", random_state=seed)
    raise ValueError(key)


def run_one(key, n_samples, seed):
    """Run one configuration in this process; return a dict of measurements."""
    from sklearn.datasets import make_classification

    from sklearn_ssl.datasets import hide_labels

    X, y = make_classification(
        n_samples,
        n_features=32,
        n_informative=16,
        n_classes=10,
        n_clusters_per_class=2,
        random_state=seed,
    )
    y_ssl = hide_labels(y, n_labeled=0.01, random_state=seed)
    unlabeled = y_ssl == -1
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    est = _make_estimator(key, seed)
    if key.endswith(("_ivf", "_hnsw")):
        # Import faiss (~0.1 s) before the clock starts, as scikit-learn's modules are.
        import faiss  # noqa: F401
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        if key == "supervised":
            est.fit(X[~unlabeled], y_ssl[~unlabeled])
            pred = est.predict(X[unlabeled])
        else:
            est.fit(X, y_ssl)
            pred = est.transduction_[unlabeled]
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {
        "seconds": seconds,
        "peak_gb": peak,
        "data_gb": rss_data,
        "accuracy": float(np.mean(pred == y[unlabeled])),
    }


def run_subprocess(key, n_samples, seed, timeout):
    cmd = [sys.executable, __file__, "--worker", json.dumps([key, n_samples, seed])]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    except subprocess.CalledProcessError as exc:
        print(exc.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt(values, spec):
    values = np.asarray(values, dtype=float)
    if len(values) == 1:
        return format(values[0], spec)
    return f"{format(values.mean(), spec)} ± {format(values.std(), spec)}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[10_000, 50_000, 200_000, 1_000_000]
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--sklearn-max", type=int, default=200_000)
    parser.add_argument(
        "--methods", nargs="+", default=[k for k, _ in METHODS.values()], help="method keys"
    )
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
    limits = {k: lim for k, lim in METHODS.values()}
    limits["sklearn_ls"] = args.sklearn_max
    names = {k: name for name, (k, _) in METHODS.items()}

    print(f"seeds {args.seeds}; 1% labelled; time of fit; peak RSS of the process (data incl.)")
    print()
    print(
        "| N | method | accuracy (unlabelled rows) | fit time (s) | peak memory (GB) |"
        " speed-up vs scikit-learn |"
    )
    print("|---|---|---|---|---|---|")
    for n in args.sizes:
        sk_time = None
        for key in keys:
            if limits[key] is not None and n > limits[key]:
                continue
            runs = [run_subprocess(key, n, s, args.timeout) for s in args.seeds]
            runs = [r for r in runs if r is not None]
            if not runs:
                print(f"| {n:,} | {names[key]} | failed or > {args.timeout:.0f} s | | | |")
                continue
            t = [r["seconds"] for r in runs]
            if key == "sklearn_ls":
                sk_time = np.mean(t)
            speedup = f"{sk_time / np.mean(t):.1f}×" if sk_time and key != "sklearn_ls" else ""
            print(
                f"| {n:,} | {names[key]} | {fmt([r['accuracy'] for r in runs], '.3f')} | "
                f"{fmt(t, '.2f')} | {fmt([r['peak_gb'] for r in runs], '.2f')} | {speedup} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
