"""Cross-validation that keeps labelled rows in every test fold."""

import numpy as np
from sklearn.model_selection import StratifiedKFold
from sklearn.model_selection._split import BaseCrossValidator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_consistent_length

from ..utils._labels import check_semi_supervised_y


class LabeledStratifiedKFold(BaseCrossValidator):
    """Stratified K-fold on the labelled rows; unlabelled rows go to training.

    scikit-learn's ``StratifiedKFold`` treats ``-1`` as one more class, so with
    few labels a test fold can end up with no labelled row (and nothing to
    score). This splitter stratifies the *labelled* rows over the folds, so
    every test fold holds labelled rows of every class that has at least
    ``n_splits`` of them, and places the unlabelled rows according to
    ``unlabeled``. A class with fewer rows than folds is spread over as many
    test folds as it has rows (scikit-learn's ``StratifiedKFold`` warns then), so
    every training set keeps some of it when it has at least two rows.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    shuffle : bool, default=False
        Whether to shuffle each class's rows before splitting.
    random_state : int, RandomState instance or None, default=None
        Controls the shuffling when ``shuffle=True``.
    unlabeled : {"train", "split"}, default="train"
        ``"train"`` puts every unlabelled row in every training set (they
        carry no label, so they cannot leak one and are never scored);
        ``"split"`` spreads them over the folds like the labelled rows, so
        that every row is in exactly one test fold, as ``cross_val_predict``
        requires (with ``"train"`` it refuses the folds: "only works for
        partitions").

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ssl.model_selection import LabeledStratifiedKFold
    >>> y = np.array([0, 0, 1, 1, -1, -1, -1, -1])
    >>> cv = LabeledStratifiedKFold(n_splits=2)
    >>> [sorted(y[test].tolist()) for _, test in cv.split(np.zeros((8, 1)), y)]
    [[0, 1], [0, 1]]
    """

    def __init__(self, n_splits=5, *, shuffle=False, random_state=None, unlabeled="train"):
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.random_state = random_state
        self.unlabeled = unlabeled

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of splits."""
        return self.n_splits

    def split(self, X, y, groups=None):
        """Generate train/test indices.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Target with ``-1`` for unlabelled rows.
        groups : ignored

        Yields
        ------
        train, test : ndarray
            Indices of the training and test rows of each fold.
        """
        if not isinstance(self.n_splits, int | np.integer) or self.n_splits < 2:
            raise ValueError(f"n_splits must be an integer >= 2, got {self.n_splits!r}.")
        if self.unlabeled not in ("train", "split"):
            raise ValueError(f"unlabeled must be 'train' or 'split', got {self.unlabeled!r}.")
        if y is None:
            raise ValueError("LabeledStratifiedKFold needs y to stratify on.")
        check_consistent_length(X, y)
        _, labeled, _, y_enc = check_semi_supervised_y(y, allow_single_class=True)
        lab_idx = np.flatnonzero(labeled)
        unl_idx = np.flatnonzero(~labeled)
        if lab_idx.shape[0] < self.n_splits:
            raise ValueError(
                f"Cannot split {lab_idx.shape[0]} labelled rows into n_splits={self.n_splits} "
                "test folds; lower n_splits or label more rows."
            )
        rng = check_random_state(self.random_state) if self.shuffle else None
        seed = None if rng is None else rng.randint(np.iinfo(np.int32).max)
        y_lab = y_enc[lab_idx]
        if np.bincount(y_lab).max() >= self.n_splits:
            # Stratified even when a class has fewer rows than folds (scikit-learn
            # warns then): the other classes keep their share in every fold.
            lab_cv = StratifiedKFold(self.n_splits, shuffle=self.shuffle, random_state=seed)
            lab_folds = [test for _, test in lab_cv.split(lab_idx, y_lab)]
        else:
            # Every class has fewer rows than folds: deal the rows class by class, so
            # that no test fold takes all of a class that another fold lacks.
            order = np.arange(y_lab.shape[0])
            if rng is not None:
                order = np.random.RandomState(seed).permutation(order)
            order = order[np.argsort(y_lab[order], kind="stable")]
            fold_of = np.empty(y_lab.shape[0], dtype=int)
            fold_of[order] = np.arange(y_lab.shape[0]) % self.n_splits
            lab_folds = [np.flatnonzero(fold_of == k) for k in range(self.n_splits)]
        if self.unlabeled == "split":
            # KFold's folds (the same rows for the same seed), for any number of
            # unlabelled rows: with fewer than n_splits, one each in the first folds.
            order = np.arange(unl_idx.shape[0])
            if rng is not None:
                order = np.random.RandomState(seed).permutation(order)
            unl_folds = np.array_split(order, self.n_splits)
        else:
            unl_folds = [np.empty(0, dtype=int)] * self.n_splits
        n = labeled.shape[0]
        for lab_test, unl_test in zip(lab_folds, unl_folds, strict=True):
            test = np.sort(np.concatenate([lab_idx[lab_test], unl_idx[unl_test]]))
            in_test = np.zeros(n, dtype=bool)
            in_test[test] = True
            yield np.flatnonzero(~in_test), test
