"""Density weighting in LocalLabelPropagation (the idea of Zhuang et al. 2019, Figure 3).

Four classes with the same number of rows but different spreads (cluster
standard deviations 0.3, 0.6, 0.9, 1.2 around unit-norm centres in 16
dimensions), 2% of the rows labelled. Without density weighting (NoDW, plain
weighted kNN, eq. 3) labelled rows of the dense classes have many unlabelled
rows close to them and claim too many of them; dividing by the density
rho (eq. 4-5) removes that bias. The table gives, per class, the mean density
of its labelled rows (D_i, as mean log rho up to a constant), the number of
unlabelled rows pseudo-labelled as that class (Q_i) with and without density
weighting, and the true count.

Examples
--------
python benchmarks/bench_graph_density.py --quick
python benchmarks/bench_graph_density.py --seeds 0 1 2 3 4 --separation 0.5 0.7
"""

import argparse
import warnings

import numpy as np

from sklearn_ssl.datasets import hide_labels
from sklearn_ssl.graph import LocalLabelPropagation

STDS = (0.3, 0.6, 0.9, 1.2)


def make_data(seed, separation, n_per_class=2000, n_features=16):
    """Classes around random unit centres scaled by 3*separation, spreads STDS."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((len(STDS), n_features))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    X, y = [], []
    for k, std in enumerate(STDS):
        noise = rng.standard_normal((n_per_class, n_features)) * 3 * std / np.sqrt(n_features)
        X.append(3 * separation * centers[k] + noise)
        y.append(np.full(n_per_class, k))
    return np.vstack(X), np.concatenate(y)


def one_run(seed, separation):
    X, y = make_data(seed, separation)
    y_ssl = hide_labels(y, n_labeled=0.02, random_state=seed)
    unlabeled = y_ssl == -1
    n_classes = len(STDS)
    res = {"true": np.bincount(y[unlabeled], minlength=n_classes)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, dw in [("NoDW", False), ("LLP", True)]:
            model = LocalLabelPropagation(density_weighting=dw).fit(X, y_ssl)
            pred = model.transduction_[unlabeled]
            res[name] = np.bincount(pred, minlength=n_classes)
            res[name + "_acc"] = np.mean(pred == y[unlabeled])
            if dw:
                lab_y = model.labeled_y_
                res["D"] = np.array([model.log_density_[lab_y == k].mean() for k in range(4)])
    return res


def ms(values, spec=".0f"):
    values = np.asarray(values, dtype=float)
    return f"{format(values.mean(), spec)} ± {format(values.std(), spec)}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--separation", type=float, nargs="+", default=[0.5, 0.7])
    parser.add_argument("--quick", action="store_true", help="one seed, one separation")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.separation = [0], [0.5]
    print(f"seeds {args.seeds}; mean ± std over seeds; 8000 rows, 2% labelled")
    for sep in args.separation:
        runs = [one_run(s, sep) for s in args.seeds]
        print(f"\n### separation {sep}\n")
        print(
            "| class | spread (std) | D_i: mean log density of its labelled rows |"
            " true count | Q_i NoDW | Q_i LLP (density-weighted) |"
        )
        print("|---|---|---|---|---|---|")
        for k, std in enumerate(STDS):
            print(
                f"| {k} | {std} | {ms([r['D'][k] for r in runs], '.2f')} | "
                f"{ms([r['true'][k] for r in runs])} | {ms([r['NoDW'][k] for r in runs])} | "
                f"{ms([r['LLP'][k] for r in runs])} |"
            )
        for name in ["NoDW", "LLP"]:
            dev = [np.abs(r[name] - r["true"]).sum() for r in runs]
            corr = [np.corrcoef(r["D"], r[name])[0, 1] for r in runs]
            acc = [100 * r[name + "_acc"] for r in runs]
            print(
                f"\n{name}: sum |Q_i - true| = {ms(dev)}, corr(D_i, Q_i) = {ms(corr, '.2f')}, "
                f"accuracy on unlabelled rows = {ms(acc, '.2f')}%"
            )


if __name__ == "__main__":
    main()
