"""The semi-supervised contract: the -1 marker, hide_labels, scoring and CV."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_ssl import SelfTrainingWrapper
from sklearn_ssl.datasets import hide_labels
from sklearn_ssl.metrics import labeled_score, make_labeled_scorer
from sklearn_ssl.model_selection import LabeledStratifiedKFold
from sklearn_ssl.utils import check_semi_supervised_y, is_labeled


@pytest.mark.parametrize(
    "y, expected_classes",
    [
        (np.array([0, 1, -1, 2]), [0, 1, 2]),
        (np.array([0.5, 1.5, -1.0]), [0.5, 1.5]),
        (np.array(["a", "b", -1], dtype=object), ["a", "b"]),
        (np.array([3, 5, -1], dtype=np.int8), [3, 5]),
        (np.array([3, 5, -1], dtype=object), [3, 5]),  # y.astype(object)
    ],
)
def test_labels_of_any_type(y, expected_classes):
    y_before = y.copy()
    y_out, labeled, classes, y_enc = check_semi_supervised_y(y)
    assert classes.tolist() == expected_classes
    assert labeled.tolist() == [True, True, False] + [True] * (len(y) - 3)
    assert -1 not in classes.tolist()
    assert y_enc[~labeled].tolist() == [-1]
    np.testing.assert_array_equal(y, y_before)
    assert y_out is not y


def test_object_marker_is_the_integer_not_the_string():
    y = np.array(["a", "-1", -1, "b"], dtype=object)
    assert is_labeled(y).tolist() == [True, True, False, True]


@pytest.mark.parametrize(
    "y, match",
    [
        ([-1, -1, -1], "no labelled row"),
        ([0, 0, -1], "only one class"),
        ([1, 1, -1, -1], r"2 row\(s\) of y equal to -1 were read as unlabelled.*\{-1, \+1\}"),
        (np.array(["cat", "dog", -1]), "integer -1"),
        ([0.0, np.nan, 1.0], "NaN"),
        (np.array(["a", None, "b"], dtype=object), "None or NaN"),
        (np.array([0, 1, np.float32("nan"), -1], dtype=object), "NaN"),
        (pd.Series([0, 1, None, -1], dtype="Int64"), "NaN"),
        (np.array(["a", 2, -1], dtype=object), "mixes string"),
        (np.array(["cat", "-1", "dog"], dtype=object), "no integer -1"),
        (np.zeros((3, 2)), "1d array"),
        ([], "empty"),
    ],
)
def test_bad_targets_have_clear_errors(y, match):
    with pytest.raises(ValueError, match=match):
        check_semi_supervised_y(y)


def test_label_columns_from_pandas():
    # A CSV label column with -1 is read as strings: the '-1' rows must not become
    # a class. Integer labels in an object column are numbers again.
    X = np.array([[0.0, 0], [0, 1], [5, 5], [5, 6], [0, 0.5], [5, 5.5]])
    strings = pd.Series(["cat", "cat", "dog", "dog", "-1", "-1"])
    with pytest.raises(ValueError, match="no integer -1"):
        SelfTrainingWrapper().fit(X, strings)
    fixed = strings.astype(object).where(strings != "-1", -1)
    model = SelfTrainingWrapper().fit(X, fixed)
    assert model.classes_.tolist() == ["cat", "dog"]
    numbers = pd.Series([0, 0, 1, 1, -1, -1], dtype=object)
    model = SelfTrainingWrapper().fit(X, numbers)
    assert model.classes_.tolist() == [0, 1] and model.classes_.dtype.kind == "i"


def test_scoring_reads_y_as_fit_does():
    # Numbers in an object column score like numbers; a string '-1' is refused as in fit.
    X, y = load_iris(return_X_y=True)
    y_ssl = hide_labels(y, n_labeled=0.3, random_state=0)
    model = SelfTrainingWrapper(LogisticRegression(max_iter=500)).fit(X, y_ssl)
    expected = model.score(X, y_ssl)
    as_object = pd.Series(y_ssl, dtype=object)
    assert model.score(X, as_object) == expected
    assert make_labeled_scorer("f1_macro")(model, X, as_object) == pytest.approx(
        make_labeled_scorer("f1_macro")(model, X, y_ssl)
    )
    with pytest.raises(ValueError, match="contains '-1'"):
        make_labeled_scorer("accuracy")(model, X, y_ssl.astype(str))
    # A one-column frame, which fit also takes.
    assert model.score(X, as_object.to_frame()) == expected


def test_single_class_allowed_when_asked():
    _, _, classes, _ = check_semi_supervised_y([1, 1, -1], allow_single_class=True)
    assert classes.tolist() == [1]


def test_wrong_length_y_and_empty_X():
    X = np.zeros((5, 2))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        SelfTrainingWrapper().fit(X, [0, 1, -1])
    with pytest.raises(ValueError, match="0 sample"):
        SelfTrainingWrapper().fit(np.zeros((0, 2)), [])


def test_hide_labels_counts_and_reproducibility():
    y = np.repeat(np.arange(4), 25)
    y_ssl = hide_labels(y, n_per_class=3, random_state=1)
    assert np.bincount(y_ssl[y_ssl != -1]).tolist() == [3, 3, 3, 3]
    np.testing.assert_array_equal(y_ssl, hide_labels(y, n_per_class=3, random_state=1))
    assert not np.array_equal(y_ssl, hide_labels(y, n_per_class=3, random_state=2))
    # labels kept are the true ones
    kept = y_ssl != -1
    np.testing.assert_array_equal(y_ssl[kept], y[kept])


def test_hide_labels_total_fraction_and_stratification():
    y = np.array([0] * 80 + [1] * 20)
    y_ssl = hide_labels(y, n_labeled=10, random_state=0)
    assert np.bincount(y_ssl[y_ssl != -1]).tolist() == [8, 2]
    y_frac = hide_labels(y, n_labeled=0.5, random_state=0)
    assert (y_frac != -1).sum() == 50
    y_unstrat = hide_labels(y, n_labeled=10, stratify=False, random_state=0)
    assert (y_unstrat != -1).sum() == 10
    # every class keeps a label even when its share rounds to zero
    y_rare = np.array([0] * 98 + [1, 1])
    assert set(hide_labels(y_rare, n_labeled=5, random_state=0).tolist()) == {-1, 0, 1}


def test_hide_labels_strings_and_unsigned():
    y = np.array(["x", "y", "x", "y"])
    out, mask = hide_labels(y, n_per_class=1, random_state=0, return_mask=True)
    assert out.dtype == object and mask.sum() == 2
    assert out[~mask].tolist() == [-1, -1]
    out_u = hide_labels(np.array([0, 1, 0, 1], dtype=np.uint8), n_per_class=1, random_state=0)
    assert out_u.dtype == np.int64 and (out_u == -1).sum() == 2
    # Above int64 (which wrapped 2**64-1 to -1): refused, as every estimator refuses
    # such labels beside -1.
    big = np.array([2**64 - 1, 2**64 - 1, 5, 5], dtype=np.uint64)
    with pytest.raises(ValueError, match="too large for int64 beside the -1 marker"):
        hide_labels(big, n_per_class=1, random_state=0)
    with pytest.raises(ValueError, match="too large for int64 beside the -1 marker"):
        check_semi_supervised_y(big.astype(object).tolist()[:3] + [-1])
    # NumPy unsigned scalars that fit beside -1 stay integers (not float64).
    small = np.array([np.uint64(3), -1, np.uint64(5)], dtype=object)
    classes = check_semi_supervised_y(small)[2]
    assert classes.dtype == np.int64 and classes.tolist() == [3, 5]
    with pytest.raises(ValueError, match="too large for int64"):  # a list: no float64 rounding
        check_semi_supervised_y([2**63 + 5, -1, 3, 2**63 + 5])


def test_unsigned_labels_come_back_unchanged():
    # result_type(uint64, int8) is float64: transduction_ rounded labels above 2**53.
    X = np.random.RandomState(0).randn(40, 2)
    for labels, dtype in (([7, 9], np.int64), ([2**63 + 1, 2**63 + 3], object)):
        y = np.where(X[:, 0] > 0, *labels).astype(np.uint64)
        model = SelfTrainingWrapper().fit(X, y)
        assert model.transduction_.dtype == dtype
        assert model.transduction_.tolist() == y.tolist()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "exactly one"),
        ({"n_labeled": 5, "n_per_class": 1}, "exactly one"),
        ({"n_labeled": 0}, "n_labeled"),
        ({"n_labeled": 1.5}, "n_labeled"),
        ({"n_per_class": 0}, "n_per_class"),
    ],
)
def test_hide_labels_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        hide_labels([0, 1, 0, 1], **kwargs)
    with pytest.raises(ValueError, match="already contains"):
        hide_labels([0, 1, -1], n_labeled=1)


def test_score_ignores_unlabeled_in_grid_search():
    """The failure the issue describes: scikit-learn scores -1 rows as a class."""
    X, y = load_breast_cancer(return_X_y=True)
    y_ssl = hide_labels(y, n_labeled=0.1, random_state=0)
    pipe = make_pipeline(StandardScaler(), SelfTrainingWrapper(LogisticRegression()))
    search = GridSearchCV(
        pipe, {"selftrainingwrapper__threshold": [0.8, 0.95]}, cv=LabeledStratifiedKFold(3)
    ).fit(X, y_ssl)
    # scoring -1 rows as a class would give about 0.1; the labelled accuracy is above 0.9
    assert search.best_score_ > 0.9
    assert search.best_estimator_.score(X, y) > 0.9


def test_labeled_scorer_any_scoring_string_and_dict():
    X, y = load_iris(return_X_y=True)
    y_ssl = hide_labels(y, n_labeled=0.3, random_state=0)
    clf = LogisticRegression(max_iter=500)  # a plain scikit-learn classifier
    res = cross_validate(
        SelfTrainingWrapper(clf, sample_rate=0.5),
        X,
        y_ssl,
        cv=LabeledStratifiedKFold(3, shuffle=True, random_state=0),
        scoring=make_labeled_scorer(["accuracy", "f1_macro"]),
    )
    assert res["test_accuracy"].mean() > 0.8 and res["test_f1_macro"].mean() > 0.8
    fitted = SelfTrainingWrapper(clf, sample_rate=0.5).fit(X, y_ssl)
    mask = y_ssl != -1
    assert labeled_score(fitted, X, y_ssl, scoring="accuracy") == pytest.approx(
        np.mean(fitted.predict(X[mask]) == y_ssl[mask])
    )
    # a plain classifier works too: its own score, on labelled rows only
    plain = LogisticRegression(max_iter=500).fit(X[mask], y_ssl[mask])
    assert make_labeled_scorer()(plain, X, y_ssl) == pytest.approx(plain.score(X[mask], y[mask]))
    with pytest.raises(ValueError, match="no labelled row"):
        make_labeled_scorer("accuracy")(fitted, X[:3], [-1, -1, -1])
    with pytest.raises(ValueError, match="scoring should be"):
        make_labeled_scorer(3)


def test_labeled_scorer_routes_sample_weight():
    # With metadata routing, a wrapped scorer that requests sample_weight receives
    # it (restricted to the labelled rows), as an unwrapped one does.
    import sklearn
    from sklearn.metrics import get_scorer

    X, y = load_iris(return_X_y=True)
    y_ssl = hide_labels(y, n_per_class=5, random_state=0)
    weight = np.random.RandomState(0).rand(len(y)) + 0.5
    cv = LabeledStratifiedKFold(3)
    with sklearn.config_context(enable_metadata_routing=True):
        est = SelfTrainingWrapper(random_state=0).set_fit_request(sample_weight=True)
        scores = {}
        for name, scoring in [
            ("plain", get_scorer("accuracy").set_score_request(sample_weight=True)),
            (
                "wrapped",
                make_labeled_scorer(get_scorer("accuracy").set_score_request(sample_weight=True)),
            ),
            ("requested", make_labeled_scorer("accuracy").set_score_request(sample_weight=True)),
        ]:
            res = cross_validate(
                est, X, y_ssl, cv=cv, params={"sample_weight": weight}, scoring=scoring
            )
            scores[name] = res["test_score"]
        folds = list(cv.split(X, y_ssl))
        unweighted = [
            np.mean(est.fit(X[tr], y_ssl[tr], sample_weight=weight[tr]).predict(X[te]) == y[te])
            for tr, te in folds
        ]
    np.testing.assert_allclose(scores["wrapped"], scores["plain"])
    np.testing.assert_allclose(scores["requested"], scores["plain"])
    assert not np.allclose(scores["plain"], unweighted)  # the weights did change the score
    with pytest.raises(TypeError, match="cannot request metadata: it calls estimator.score"):
        make_labeled_scorer().set_score_request(sample_weight=True)
    with sklearn.config_context(enable_metadata_routing=True):
        # The caller's scorer keeps its own requests.
        accuracy = get_scorer("accuracy")
        make_labeled_scorer(accuracy).set_score_request(sample_weight=True)
        assert accuracy.get_metadata_routing().score.requests.get("sample_weight") is None


@pytest.mark.filterwarnings("ignore::scipy.sparse.SparseEfficiencyWarning")  # dia of iris
@pytest.mark.parametrize("fmt", ["coo", "dia", "bsr"])
def test_score_on_sparse_formats_without_row_indexing(fmt):
    from scipy import sparse

    from sklearn_ssl import EntropyRegularizedLogisticRegression

    X, y = load_iris(return_X_y=True)
    y_ssl = hide_labels(y, n_per_class=5, random_state=0)
    X_sparse = sparse.csr_matrix(X).asformat(fmt)
    for model in (SelfTrainingWrapper(random_state=0), EntropyRegularizedLogisticRegression()):
        model.fit(sparse.csr_matrix(X), y_ssl)
        expected = model.score(X, y_ssl)
        assert model.score(X_sparse, y_ssl) == pytest.approx(expected)
        assert labeled_score(model, X_sparse, y_ssl, "accuracy") == pytest.approx(expected)


def test_labeled_stratified_kfold_keeps_labels_in_every_fold():
    y = hide_labels(np.repeat([0, 1, 2], 100), n_per_class=4, random_state=0)
    X = np.zeros((300, 1))
    cv = LabeledStratifiedKFold(4, shuffle=True, random_state=0)
    all_test = []
    for train, test in cv.split(X, y):
        assert sorted(y[test].tolist()) == [0, 1, 2]  # stratified, no unlabelled row in test
        assert (y[train] == -1).sum() == (y == -1).sum()
        assert np.intersect1d(train, test).size == 0
        all_test.append(test)
    assert np.sort(np.concatenate(all_test)).tolist() == np.flatnonzero(y != -1).tolist()
    split = LabeledStratifiedKFold(4, unlabeled="split")
    n_unl_test = [(y[test] == -1).sum() for _, test in split.split(X, y)]
    assert sum(n_unl_test) == (y == -1).sum() and min(n_unl_test) > 0
    assert split.get_n_splits() == 4
    # Fewer unlabelled rows than folds: still a partition (cross_val_predict needs one).
    y_few = np.r_[np.repeat([0, 1], 10), [-1, -1, -1]]
    tests = [test for _, test in split.split(np.zeros((23, 1)), y_few)]
    assert np.sort(np.concatenate(tests)).tolist() == list(range(23))
    # Shuffled, random_state picks which unlabelled rows go to which fold.
    unl_tests = [
        [test[y[test] == -1].tolist() for _, test in cv.split(X, y)]
        for cv in (
            LabeledStratifiedKFold(4, unlabeled="split", shuffle=True, random_state=seed)
            for seed in (0, 0, 1)
        )
    ]
    assert unl_tests[0] == unl_tests[1] != unl_tests[2]
    with pytest.raises(ValueError, match="labelled rows into"):
        list(LabeledStratifiedKFold(20).split(X, y))


def test_pandas_input_and_no_mutation():
    X, y = load_iris(return_X_y=True, as_frame=True)
    y_ssl = pd.Series(hide_labels(y.to_numpy(), n_per_class=5, random_state=0), index=y.index)
    X_before, y_before = X.copy(), y_ssl.copy()
    clf = SelfTrainingWrapper(sample_rate=0.5).fit(X, y_ssl)
    pd.testing.assert_frame_equal(X, X_before)
    pd.testing.assert_series_equal(y_ssl, y_before)
    assert clf.feature_names_in_.tolist() == X.columns.tolist()
    assert clf.score(X, y) > 0.8


@pytest.mark.filterwarnings("ignore:The least populated class")
@pytest.mark.parametrize("counts", [[6, 2], [10, 10, 2], [2, 2, 2]])
def test_folds_stay_stratified_when_a_class_is_small(counts):
    # Rows sorted by class, one class with fewer rows than folds: the other
    # classes are still stratified and no training set loses a class of >= 2 rows.
    y = np.concatenate([np.full(c, k) for k, c in enumerate(counts)] + [np.full(30, -1)])
    X = np.zeros((y.shape[0], 1))
    cv = LabeledStratifiedKFold(n_splits=3)
    folds = list(cv.split(X, y))
    assert len(folds) == 3
    for train, test in folds:
        assert set(y[train][y[train] != -1]) == set(range(len(counts)))
        for k, c in enumerate(counts):
            assert np.sum(y[test] == k) in (c // 3, -(-c // 3))  # floor or ceil of c / 3
    tested = np.sort(np.concatenate([test for _, test in folds]))
    np.testing.assert_array_equal(tested, np.flatnonzero(y != -1))


def test_shuffled_folds_of_small_classes_follow_random_state():
    # Every class smaller than n_splits: rows are dealt class by class; shuffled,
    # random_state decides the deal, and each row is still tested exactly once.
    y = np.array([0, 0, 1, 1, 2, 2, -1, -1, -1])
    X = np.zeros((y.shape[0], 1))

    def deal(seed):
        cv = LabeledStratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
        return [tuple(test) for _, test in cv.split(X, y)]

    assert deal(0) == deal(0)
    assert len({tuple(deal(seed)) for seed in range(6)}) > 1
    for seed in range(6):
        tests = deal(seed)
        np.testing.assert_array_equal(np.sort(np.concatenate(tests)), np.flatnonzero(y != -1))
        for test in tests:  # no fold holds both rows of a class
            assert len(set(y[list(test)])) == len(test)


@pytest.mark.parametrize(
    "y, params, match",
    [
        (np.array([-1, 1, -1, 1]), {"n_per_class": 1}, "If -1 is a class"),
        (np.array([0.0, 1.0, np.nan, 1.0]), {"n_per_class": 1}, "missing values"),
        (pd.Series([0, 1, None, 1], dtype="Int64"), {"n_per_class": 1}, "missing values"),
        (np.array(["a", None, "b"], dtype=object), {"n_per_class": 1}, "missing values"),
        ([0, 1, 0, 1], {"n_labeled": True}, "int count"),
        (np.array(["a", 1, "b", 2], dtype=object), {"n_per_class": 1}, "mixes string"),
    ],
)
def test_hide_labels_bad_targets(y, params, match):
    with pytest.raises(ValueError, match=match):
        hide_labels(y, random_state=0, **params)
