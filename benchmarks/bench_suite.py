"""Does semi-supervised learning help? Every estimator with its defaults on real data.

The suite fits each estimator on the labelled and unlabelled training rows of
22 KEEL tables, scikit-learn's digits, breast_cancer and wine, an MNIST subset
and two moons, under three label budgets and several label-draw seeds, and
scores it on test rows never seen in fit, beside supervised LogisticRegression
and HistGradientBoostingClassifier fitted on the labelled rows and beside
scikit-learn's SelfTrainingClassifier and LabelSpreading. Each estimator sits in
a Pipeline behind the preprocessing a user would write (tables: numeric columns
standardised, categorical ones one-hot, in a ColumnTransformer).

Per estimator it reports accuracy and balanced accuracy, the change against
supervised LogisticRegression on the same labelled rows (the classifier that the
default SelfTrainingWrapper wraps), the change against the better of the two
supervised baselines, the hurt rate (share of runs more than one point below
LogisticRegression, in accuracy and in balanced accuracy) and the fit time.

Results go to a CSV, one row per fit, which makes the suite resumable: a rerun
skips the fits already in it. ``--summary`` only prints the tables of a CSV.

Examples
--------
python benchmarks/bench_suite.py --quick --n-jobs 2   # about 10 minutes on 2 cores
python benchmarks/bench_suite.py --n-jobs 2
python benchmarks/bench_suite.py --estimators classical --datasets keel
python benchmarks/bench_suite.py --summary --out benchmarks/results/suite
"""

import argparse
import fnmatch
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# The worker processes import the suite's modules too.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))

from _suite_data import (  # noqa: E402
    ALL_DATASETS,
    HELPFUL_DATASETS,
    KEEL_TABLES,
)
from _suite_estimators import REFERENCE, SUPERVISED, all_specs  # noqa: E402
from _suite_run import run_cell  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
BUDGETS = ("5%", "10%", "10/class")
QUICK_DATASETS = (
    "wine",
    "housevotes",
    "breast",
    "bupa",
    "wisconsin",
    "pima",
    "vowel",
    "contraceptive",
    "digits",
    "moons",
)
HURT_POINTS = 1.0  # a run "hurts" when it is more than this many points below its reference
KEY = ["dataset", "budget", "seed", "estimator"]


# --------------------------------------------------------------------------- select
def _select(patterns, names, groups=None):
    """Names matching any pattern (shell-style, or a group name such as 'keel')."""
    if not patterns:
        return list(names)
    chosen = []
    for pattern in patterns:
        if groups and pattern in groups:
            matched = [n for n in names if n in groups[pattern]]
        else:
            matched = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not matched:
            raise SystemExit(f"--{pattern!r} matches nothing; choose from: {', '.join(names)}")
        chosen += [n for n in matched if n not in chosen]
    return chosen


def _estimator_groups(specs):
    groups = {}
    for name, spec in specs.items():
        groups.setdefault(spec.group, []).append(name)
        groups.setdefault("neural" if spec.neural else "classical", []).append(name)
    groups["default"] = [n for n, s in specs.items() if s.group != "candidate"]
    groups["candidates"] = groups.pop("candidate", [])
    return groups


# --------------------------------------------------------------------------- run
def run_suite(datasets, budgets, seeds, names, csv_path, *, data_dir, caps, n_jobs, verbose):
    csv_path = Path(csv_path)
    done = set()
    if csv_path.exists():
        old = pd.read_csv(csv_path, keep_default_na=False)
        done = set(zip(*(old[k].astype(str) for k in KEY), strict=True))
    cells = []
    for dataset in datasets:
        for budget in budgets:
            for seed in seeds:
                todo = [n for n in names if (dataset, budget, str(seed), n) not in done]
                if todo:
                    cells.append((dataset, budget, seed, todo))
    n_fits = sum(len(c[3]) for c in cells)
    print(f"{len(cells)} cells, {n_fits} fits to run ({len(done)} already in {csv_path})")
    if not cells:
        return
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    threads = 1  # one BLAS (and torch) thread per fit: parallelism comes from --n-jobs
    jobs = (delayed(run_cell)(d, data_dir, b, s, todo, caps, threads) for d, b, s, todo in cells)
    tic = time.perf_counter()
    finished = 0
    for rows in Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs):
        frame = pd.DataFrame(rows)
        frame.to_csv(csv_path, mode="a", header=not csv_path.exists(), index=False)
        finished += 1
        if verbose:
            first = rows[0]
            print(
                f"[{finished}/{len(cells)}, {time.perf_counter() - tic:.0f} s] "
                f"{first['dataset']} {first['budget']} seed {first['seed']}: "
                + ", ".join(f"{r['estimator']} {r['accuracy']:.1f}" for r in rows),
                flush=True,
            )


# --------------------------------------------------------------------------- summary
SHORT = {
    "LogisticRegression": "LR",
    "HistGradientBoosting": "HGB",
    "sklearn SelfTrainingClassifier": "skST",
    "sklearn LabelSpreading": "skLS",
    "SelfTrainingWrapper": "ST",
    "LabelPropagation": "LP",
    "LabelSpreading": "LS",
    "LocalLabelPropagation": "LLP",
    "EntropyRegularizedLogisticRegression": "ERLR",
    "FixMatchClassifier": "FM",
    "MeanTeacherClassifier": "MT",
    "PseudoLabelClassifier": "PL",
}


def short(name):
    if name.startswith("Safe(") and name.endswith(")"):
        return "S-" + short(name[5:-1])
    return SHORT.get(name, name)


def with_deltas(df):
    """Add the change against the reference and against the better supervised model."""
    df = df.copy()
    df["seed"] = df["seed"].astype(int)
    cell = ["dataset", "budget", "seed"]
    ref = df[df["estimator"].isin(SUPERVISED)][
        cell + ["estimator", "accuracy", "balanced_accuracy"]
    ]
    for metric in ("accuracy", "balanced_accuracy"):
        wide = ref.pivot_table(index=cell, columns="estimator", values=metric)
        df = df.join(wide.add_prefix(f"{metric}@"), on=cell)
    df["d_acc"] = df["accuracy"] - df.apply(lambda r: r[f"accuracy@{r['reference']}"], axis=1)
    df["d_bal"] = df["balanced_accuracy"] - df.apply(
        lambda r: r[f"balanced_accuracy@{r['reference']}"], axis=1
    )
    # The better supervised baseline per data set and budget (by mean accuracy over seeds).
    means = ref.groupby(["dataset", "budget", "estimator"])["accuracy"].mean().unstack()
    best = means.idxmax(axis=1).rename("best_supervised")
    df = df.join(best, on=["dataset", "budget"])
    df["d_best"] = df["accuracy"] - df.apply(
        lambda r: r[f"accuracy@{r['best_supervised']}"], axis=1
    )
    return df


def overall_table(df, order):
    lines = [
        "| estimator | runs | failed | accuracy | balanced acc. | Δ acc. vs LR | Δ bal. vs LR "
        "| Δ acc. vs best supervised | hurt (acc.) | hurt (bal.) | fit time (s) | chose SSL |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in order:
        g = df[df["estimator"] == name]
        if g.empty:
            continue
        ok = g[g["error"].fillna("") == ""]
        hurt_acc = 100 * np.mean(ok["d_acc"] < -HURT_POINTS)
        hurt_bal = 100 * np.mean(ok["d_bal"] < -HURT_POINTS)
        chose = ""
        if (ok["selected"].fillna("") != "").any():
            chose = f"{100 * np.mean(ok['selected'] == 'semi-supervised'):.0f}%"
        lines.append(
            f"| {name} | {len(g)} | {len(g) - len(ok)} | {ok['accuracy'].mean():.2f} "
            f"| {ok['balanced_accuracy'].mean():.2f} | {ok['d_acc'].mean():+.2f} "
            f"| {ok['d_bal'].mean():+.2f} | {ok['d_best'].mean():+.2f} | {hurt_acc:.0f}% "
            f"| {hurt_bal:.0f}% | {ok['fit_time'].mean():.2f} | {chose} |"
        )
    return "\n".join(lines)


def budget_table(df, order):
    budgets = [b for b in BUDGETS if b in set(df["budget"])]
    head = " | ".join(f"Δ acc. {b} | hurt {b}" for b in budgets)
    lines = [f"| estimator | {head} |", "|---|" + "---|" * (2 * len(budgets))]
    for name in order:
        g = df[(df["estimator"] == name) & (df["error"].fillna("") == "")]
        if g.empty:
            continue
        cells = []
        for b in budgets:
            gb = g[g["budget"] == b]
            cells.append(
                f"{gb['d_acc'].mean():+.2f} | {100 * np.mean(gb['d_acc'] < -HURT_POINTS):.0f}%"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def dataset_table(df, order, metric="d_acc"):
    names = [n for n in order if n in set(df["estimator"]) and n != REFERENCE]
    ok = df[df["error"].fillna("") == ""]
    wide = ok.pivot_table(index="dataset", columns="estimator", values=metric, aggfunc="mean")
    lr = (
        ok[ok["estimator"] == REFERENCE]
        .groupby("dataset")["accuracy" if metric in ("d_acc", "d_best") else "balanced_accuracy"]
        .mean()
    )
    datasets = [d for d in ALL_DATASETS if d in wide.index]
    lines = [
        "| data set | LR | " + " | ".join(short(n) for n in names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for d in datasets:
        cells = [f"{wide.loc[d, n]:+.1f}" if n in wide.columns else "" for n in names]
        lines.append(f"| {d} | {lr.get(d, np.nan):.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def alpha_table(df, alphas=(0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)):
    """What the guard would have done with other ``alpha``: replayed from its records.

    The guard's final semi-supervised fit is the plain estimator's fit (same
    Pipeline, same seed), so its result under another ``alpha`` is the plain
    run's where the recorded cross-validation passes that ``alpha``, and the
    supervised reference's elsewhere.
    """
    ok = df[df["error"] == ""]
    guarded = ok[ok["group"] == "guarded"].copy()
    if guarded.empty:
        return ""
    guarded["plain"] = guarded["estimator"].str[5:-1]
    plain = ok[["dataset", "budget", "seed", "estimator", "d_acc", "d_bal"]].rename(
        columns={"estimator": "plain", "d_acc": "plain_d_acc", "d_bal": "plain_d_bal"}
    )
    g = guarded.merge(plain, on=["dataset", "budget", "seed", "plain"])
    helpful = g["dataset"].isin(HELPFUL_DATASETS)
    lines = [
        "| alpha | chose SSL | Δ acc. | Δ bal. | hurt (acc.) | hurt (bal.) "
        "| Δ acc. where SSL helps | best plain Δ there |",
        "|---|---|---|---|---|---|---|---|",
    ]
    best_plain = (
        g[helpful]
        .groupby(["dataset", "budget", "plain"])["plain_d_acc"]
        .mean()
        .groupby(["dataset", "budget"])
        .max()
        .mean()
    )
    for alpha in alphas:
        chose = (
            (g["cv_accuracy"] > 0) & (g["cv_balanced_accuracy"] >= 0) & (g["cv_p_value"] <= alpha)
        )
        d_acc = np.where(chose, g["plain_d_acc"], 0.0)
        d_bal = np.where(chose, g["plain_d_bal"], 0.0)
        # The best guarded estimator per helpful data set and budget, averaged.
        frame = g.assign(d=d_acc)[helpful]
        best_guarded = (
            frame.groupby(["dataset", "budget", "plain"])["d"]
            .mean()
            .groupby(["dataset", "budget"])
            .max()
            .mean()
        )
        lines.append(
            f"| {alpha:g} | {100 * chose.mean():.0f}% | {d_acc.mean():+.2f} | {d_bal.mean():+.2f} "
            f"| {100 * np.mean(d_acc < -HURT_POINTS):.1f}% "
            f"| {100 * np.mean(d_bal < -HURT_POINTS):.1f}% "
            f"| {best_guarded:+.2f} | {best_plain:+.2f} |"
        )
    return "\n".join(lines)


def helpful_table(df):
    """Where SSL clearly helps: the best plain estimator's gain and what its guard keeps."""
    ok = df[df["error"].fillna("") == ""]
    lines = [
        "| data set | budget | best estimator | its Δ acc. | guarded Δ acc. | kept "
        "| best guarded Δ acc. |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in HELPFUL_DATASETS:
        for b in BUDGETS:
            g = ok[(ok["dataset"] == d) & (ok["budget"] == b)]
            plain = g[g["group"] == "sklearn_ssl"].groupby("estimator")["d_acc"].mean()
            guarded = g[g["group"] == "guarded"].groupby("estimator")["d_acc"].mean()
            if plain.empty:
                continue
            best = plain.idxmax()
            safe = guarded.get(f"Safe({best})", np.nan)
            kept = 100 * safe / plain[best] if plain[best] > 0 else np.nan
            best_safe = guarded.max() if not guarded.empty else np.nan
            lines.append(
                f"| {d} | {b} | {best} | {plain[best]:+.2f} | {safe:+.2f} | {kept:.0f}% "
                f"| {best_safe:+.2f} |"
            )
    return "\n".join(lines)


def collapse_table(df, order):
    """Runs where balanced accuracy fell to chance while LogisticRegression's did not."""
    ok = df[df["error"].fillna("") == ""].copy()
    chance = 100.0 / ok["n_classes"]
    at_chance = ok["balanced_accuracy"] <= chance + 1.0
    ref_above = ok[f"balanced_accuracy@{REFERENCE}"] > chance + 5.0
    ok["collapsed"] = at_chance & ref_above
    lines = ["| estimator | runs at chance | data sets |", "|---|---|---|"]
    for name in order:
        g = ok[(ok["estimator"] == name) & ok["collapsed"]]
        if g.empty:
            continue
        sets = ", ".join(sorted(set(g["dataset"])))
        lines.append(f"| {name} | {len(g)} | {sets} |")
    return "\n".join(lines) if len(lines) > 2 else "No run fell to chance balanced accuracy."


def figure(df, order, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = df[df["error"].fillna("") == ""]
    names = [n for n in order if n in set(ok["estimator"]) and n != REFERENCE]
    fig, (ax, hm) = plt.subplots(
        1, 2, figsize=(16, max(5, 0.42 * len(names) + 1.5)), width_ratios=[1, 1.4]
    )
    data = [ok.loc[ok["estimator"] == n, "d_acc"].to_numpy() for n in names]
    try:  # matplotlib >= 3.10; vert= is deprecated there
        ax.boxplot(data, orientation="horizontal", showfliers=False, widths=0.6)
    except TypeError:
        ax.boxplot(data, vert=False, showfliers=False, widths=0.6)
    for i, values in enumerate(data, start=1):
        jitter = np.random.RandomState(i).uniform(-0.2, 0.2, values.shape[0])
        ax.scatter(values, i + jitter, s=3, alpha=0.25, color="tab:blue")
        hurt = 100 * np.mean(values < -HURT_POINTS)
        ax.annotate(f"hurt {hurt:.0f}%", (1.01, i), xycoords=("axes fraction", "data"), va="center")
    ax.axvline(0, color="k", lw=0.8)
    ax.axvspan(-100, -HURT_POINTS, color="tab:red", alpha=0.06)
    ax.set_yticks(range(1, len(names) + 1), names)
    ax.set_xlim(-30, 30)
    ax.invert_yaxis()
    ax.set_xlabel("test accuracy minus supervised LogisticRegression's (points), every run")
    wide = ok.pivot_table(index="dataset", columns="estimator", values="d_acc", aggfunc="mean")
    datasets = [d for d in ALL_DATASETS if d in wide.index]
    wide = wide.reindex(index=datasets, columns=names)
    im = hm.imshow(wide.to_numpy().T, cmap="RdBu", vmin=-10, vmax=10, aspect="auto")
    hm.set_xticks(range(len(datasets)), datasets, rotation=90)
    hm.set_yticks(range(len(names)), [short(n) for n in names])
    fig.colorbar(im, ax=hm, label="mean Δ accuracy vs LR (points)", shrink=0.8)
    hm.set_title("mean over budgets and seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def summarise(csv_path, out_prefix, order=None):
    df = pd.read_csv(csv_path, keep_default_na=False, na_values=[""])
    df["error"] = df["error"].fillna("")
    df["selected"] = df["selected"].fillna("")
    df = with_deltas(df)
    specs = all_specs()
    present = list(dict.fromkeys(df["estimator"]))
    order = order or [n for n in specs if n in present] + [n for n in present if n not in specs]
    n_runs = df.groupby("estimator").size()
    text = [
        f"{df['dataset'].nunique()} data sets, budgets {', '.join(sorted(set(df['budget'])))}, "
        f"seeds {', '.join(map(str, sorted(set(df['seed']))))}; {int(n_runs.max())} runs per "
        f"estimator at most. Accuracy in %, on test rows never seen in fit. Δ: mean change in "
        f"points; hurt: share of runs more than {HURT_POINTS:g} point below LogisticRegression "
        "fitted on the same labelled rows.",
        "",
        "### Overall",
        "",
        overall_table(df, order),
        "",
        "### By label budget (Δ accuracy vs LR, hurt rate in accuracy)",
        "",
        budget_table(df, order),
        "",
        "### By data set: mean Δ accuracy vs LR (points; LR's accuracy in the second column)",
        "",
        dataset_table(df, order, "d_acc"),
        "",
        "### By data set: mean Δ balanced accuracy vs LR",
        "",
        dataset_table(df, order, "d_bal"),
        "",
        "### Balanced accuracy at chance (within 1 point) where LR's was 5 points above it",
        "",
        collapse_table(df, order),
    ]
    if (df["group"] == "guarded").any():
        text += ["", "### Where semi-supervised learning helps: the gain the guard keeps", ""]
        text += [helpful_table(df)]
        text += [
            "",
            "### The guard under other alpha (replayed from its cross-validation records; "
            "guarded runs of every estimator pooled)",
            "",
            alpha_table(df),
        ]
    report = "\n".join(text)
    out_prefix = Path(out_prefix)
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{out_prefix}.md").write_text(report + "\n")
    try:
        figure(df, order, f"{out_prefix}.png")
    except ImportError:
        print("(matplotlib is not installed: no figure)")
    print(report)
    print(f"\nwrote {out_prefix}.md and {out_prefix}.png")
    return df


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with keel/ and mnist/")
    p.add_argument("--datasets", nargs="+", help="names, patterns or 'keel'")
    p.add_argument("--budgets", nargs="+", default=list(BUDGETS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    p.add_argument(
        "--estimators",
        nargs="+",
        help="names, patterns or groups: default, supervised, peer, sklearn_ssl, guarded, "
        "candidates, classical, neural",
    )
    p.add_argument("--max-train", type=int, default=5000)
    p.add_argument("--max-test", type=int, default=2000)
    p.add_argument("--n-jobs", type=int, default=1, help="cells fitted in parallel processes")
    p.add_argument("--out", type=Path, default=None, help="output prefix (CSV, .md, .png)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="10 small tables, one budget, 3 seeds, no guarded neural estimator",
    )
    p.add_argument("--summary", action="store_true", help="only summarise the CSV")
    p.add_argument("-q", "--quiet", action="store_true")
    args = p.parse_args(argv)

    specs = all_specs()
    groups = _estimator_groups(specs)
    if args.quick:
        args.datasets = args.datasets or list(QUICK_DATASETS)
        args.budgets = ["10%"] if args.budgets == list(BUDGETS) else args.budgets
        args.seeds = args.seeds[:3]
        # Every default, alone and guarded, except the guarded neural estimators: six
        # network fits a run, hours on a CPU (run them with --estimators 'Safe(*)').
        args.estimators = args.estimators or [
            n for n in groups["default"] if not (specs[n].guarded and specs[n].neural)
        ]
    out = args.out or Path(__file__).resolve().parent / "results" / (
        "suite_quick" if args.quick else "suite"
    )
    csv_path = Path(f"{out}.csv")
    if not args.summary:
        datasets = _select(args.datasets, ALL_DATASETS, {"keel": KEEL_TABLES})
        names = _select(args.estimators or ["default"], list(specs), groups)
        # The supervised baselines are needed for every delta.
        names = [n for n in SUPERVISED if n not in names] + names
        os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning")
        run_suite(
            datasets,
            args.budgets,
            args.seeds,
            names,
            csv_path,
            data_dir=args.data.resolve(),
            caps={"max_train": args.max_train, "max_test": args.max_test},
            n_jobs=args.n_jobs,
            verbose=not args.quiet,
        )
    summarise(csv_path, out)


if __name__ == "__main__":
    main()
