"""Data of the benchmark suite: real tables, two image sets and two moons.

Every data set comes with the preprocessing a user would put in front of the
estimator inside the Pipeline: tables get their numeric columns standardised and
their categorical (string) columns one-hot encoded in a ``ColumnTransformer``;
images are scaled to [0, 1] by their largest possible pixel value; two moons is
standardised. Labels are kept as the source has them (integers or strings).
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_digits, load_wine, make_moons
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

KEEL_TABLES = (
    "tae",
    "wine",
    "housevotes",
    "breast",
    "bupa",
    "movement_libras",
    "monk-2",
    "wdbc",
    "wisconsin",
    "pima",
    "mammographic",
    "vowel",
    "contraceptive",
    "segment",
    "chess",
    "spambase",
    "phoneme",
    "mushroom",
    "marketing",
    "twonorm",
    "magic",
    "letter",
)
SKLEARN_SETS = ("digits", "breast_cancer", "sklearn_wine")
OTHER_SETS = ("mnist", "moons")
ALL_DATASETS = KEEL_TABLES + SKLEARN_SETS + OTHER_SETS
# Where semi-supervised learning is known to help (the cluster assumption holds):
# the guard must keep most of the best estimator's gain there.
HELPFUL_DATASETS = ("digits", "mnist", "moons")

MNIST_ROWS = 7000  # a fixed random subset of MNIST's 70000 images


@dataclass
class Dataset:
    """One data set: features (a DataFrame for tables), labels and its preprocessing."""

    name: str
    X: object
    y: np.ndarray
    kind: str  # "table", "image" or "points"
    categorical: list = field(default_factory=list)
    pixel_max: float = 1.0

    @property
    def n_classes(self):
        return np.unique(self.y).shape[0]

    def preprocessor(self):
        """The unsupervised preprocessing step a user would fit in the Pipeline."""
        if self.kind == "image":
            return FunctionTransformer(_scale_pixels, kw_args={"pixel_max": self.pixel_max})
        if self.kind == "points" or not self.categorical:
            return StandardScaler()
        numeric = [c for c in self.X.columns if c not in self.categorical]
        steps = [("categorical", OneHotEncoder(handle_unknown="ignore"), self.categorical)]
        if numeric:
            steps.insert(0, ("numeric", StandardScaler(), numeric))
        # Dense output: several estimators (faiss, torch) need dense rows.
        return ColumnTransformer(steps, sparse_threshold=0.0)


def _scale_pixels(X, pixel_max):
    return np.asarray(X, dtype=np.float64) / pixel_max


def load_keel(path):
    """A KEEL table: CSV without header, the last column the class."""
    frame = pd.read_csv(path, header=None, skipinitialspace=True)
    X = frame.iloc[:, :-1]
    X.columns = [f"x{i}" for i in range(X.shape[1])]
    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    X = X.astype({c: object for c in categorical})
    y = frame.iloc[:, -1].to_numpy()
    if y.dtype.kind not in "iu":
        y = y.astype(object)  # strings: the -1 marker then needs an object array
    return Dataset(Path(path).stem, X, y, "table", categorical)


def load_dataset(name, data_dir):
    """Load one data set of the suite by name; ``data_dir`` holds ``keel/`` and ``mnist/``."""
    data_dir = Path(data_dir)
    if name in KEEL_TABLES:
        return load_keel(data_dir / "keel" / f"{name}.csv")
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return Dataset(name, X, y, "image", pixel_max=16.0)
    if name == "breast_cancer":
        X, y = load_breast_cancer(return_X_y=True)
        return Dataset(name, X, y, "points")
    if name == "sklearn_wine":
        X, y = load_wine(return_X_y=True)
        return Dataset(name, X, y, "points")
    if name == "moons":
        X, y = make_moons(2000, noise=0.1, random_state=0)
        return Dataset(name, X, y, "points")
    if name == "mnist":
        with np.load(data_dir / "mnist" / "mnist.npz") as data:
            X = np.concatenate([data["x_train"], data["x_test"]]).reshape(-1, 784)
            y = np.concatenate([data["y_train"], data["y_test"]]).astype(np.int64)
        rows = np.random.RandomState(0).choice(X.shape[0], MNIST_ROWS, replace=False)
        return Dataset(name, X[rows], y[rows], "image", pixel_max=255.0)
    raise ValueError(f"Unknown data set {name!r}; choose from {', '.join(ALL_DATASETS)}.")


def split(dataset, seed, *, test_size=0.3, max_train=5000, max_test=2000):
    """Stratified train/test split, with both parts capped (large tables are subsampled)."""
    n = dataset.y.shape[0]
    n_test = min(int(round(test_size * n)), max_test)
    n_train = min(n - n_test, max_train)
    rows = np.arange(n)
    if n_train + n_test < n:
        rows, _ = train_test_split(
            rows, train_size=n_train + n_test, stratify=dataset.y, random_state=seed
        )
    train, test = train_test_split(
        rows, test_size=n_test, stratify=dataset.y[rows], random_state=seed
    )
    take = (
        (lambda idx: dataset.X.iloc[idx]) if hasattr(dataset.X, "iloc") else dataset.X.__getitem__
    )
    return take(train), take(test), dataset.y[train], dataset.y[test]


def label_budget(y, budget, seed):
    """``y`` with all but a labelled subset set to -1 (an object array for string labels).

    ``budget`` is ``"5%"``-like (that share of the rows, at least 2 per class,
    stratified) or ``"10/class"``-like (that many rows per class, fewer only when
    a class has fewer rows; at least one row per class stays unlabelled).
    """
    rng = np.random.RandomState(seed)
    classes, y_enc = np.unique(y, return_inverse=True)
    keep = np.zeros(y.shape[0], dtype=bool)
    for k in range(classes.shape[0]):
        members = rng.permutation(np.flatnonzero(y_enc == k))
        if budget.endswith("%"):
            n_k = max(2, int(round(float(budget[:-1]) / 100 * members.shape[0])))
        elif budget.endswith("/class"):
            n_k = int(budget.split("/")[0])
        else:
            raise ValueError(f"Unknown budget {budget!r}: use '5%' or '10/class'.")
        n_k = min(n_k, max(members.shape[0] - 1, 1))
        keep[members[:n_k]] = True
    y_ssl = np.array(y, dtype=object if y.dtype.kind in "OUS" else np.int64)
    y_ssl[~keep] = -1
    return y_ssl
