"""SafeSemiSupervisedClassifier: selection by cross-validation, fallback, errors."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_moons
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.semi_supervised import SelfTrainingClassifier
from sklearn.svm import SVC

from sklearn_ssl import (
    EntropyRegularizedLogisticRegression,
    LabelSpreading,
    SafeSemiSupervisedClassifier,
    SelfTrainingWrapper,
)
from sklearn_ssl.datasets import hide_labels
from sklearn_ssl.exceptions import SupervisedFallbackWarning
from sklearn_ssl.model_selection import LabeledStratifiedKFold, supervised_counterpart
from sklearn_ssl.model_selection._safe import sign_test_pvalue


@pytest.fixture
def moons():
    X, y = make_moons(400, noise=0.1, random_state=0)
    return X, y, hide_labels(y, n_per_class=25, random_state=0)


class _Threshold(ClassifierMixin, BaseEstimator):
    """Predicts class 1 where the first feature is at least ``cut``."""

    def __init__(self, cut=1.0):
        self.cut = cut

    def fit(self, X, y):
        self.classes_ = np.array([0, 1])
        return self

    def predict(self, X):
        return (np.asarray(X)[:, 0] >= self.cut).astype(int)


def test_selects_semi_supervised_where_it_wins(moons):
    X, y, y_ssl = moons
    safe = SafeSemiSupervisedClassifier(LabelSpreading(), random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SupervisedFallbackWarning)
        safe.fit(X, y_ssl)
    assert safe.selected_ == "semi-supervised"
    assert isinstance(safe.estimator_, LabelSpreading)
    direct = LabelSpreading().fit(X, y_ssl)
    np.testing.assert_array_equal(safe.predict(X), direct.predict(X))
    np.testing.assert_allclose(safe.predict_proba(X), direct.predict_proba(X))
    assert safe.cv_gain_["accuracy"] > 0.05
    assert safe.cv_gain_["n_wins"] > safe.cv_gain_["n_losses"]


def test_falls_back_with_a_warning_when_semi_supervised_loses(moons):
    X, y, y_ssl = moons
    # A "semi-supervised" model that predicts one class loses to LogisticRegression.
    safe = SafeSemiSupervisedClassifier(DummyClassifier(strategy="constant", constant=1))
    with pytest.warns(SupervisedFallbackWarning, match="did not beat LogisticRegression"):
        safe.fit(X, y_ssl)
    assert safe.selected_ == "supervised"
    labeled = y_ssl != -1
    ref = LogisticRegression(max_iter=1000).fit(X[labeled], y_ssl[labeled])
    np.testing.assert_array_equal(safe.predict(X), ref.predict(X))
    assert safe.cv_gain_["accuracy"] < 0


def test_balanced_accuracy_must_not_drop():
    # 96% class 0. The "semi-supervised" model predicts 0 everywhere (40 rows wrong,
    # balanced accuracy 0.5); the supervised one finds every class-1 row but also
    # calls the 60 rows at x=2 class 1: lower accuracy, higher balanced accuracy.
    rng = np.random.RandomState(0)
    x = np.r_[np.zeros(800), np.full(60, 2.0), np.ones(40)]
    y = np.r_[np.zeros(860, dtype=int), np.ones(40, dtype=int)]
    perm = rng.permutation(x.shape[0])
    X, y = x[perm, None], y[perm]
    only_zero = DummyClassifier(strategy="constant", constant=0)
    safe = SafeSemiSupervisedClassifier(only_zero, supervised_estimator=_Threshold(), alpha=1.0)
    with pytest.warns(SupervisedFallbackWarning):
        safe.fit(X, y)
    assert safe.cv_gain_["accuracy"] > 0
    assert safe.cv_gain_["balanced_accuracy"] < 0
    assert safe.selected_ == "supervised"


def test_cv_results_table(moons):
    X, _, y_ssl = moons
    safe = SafeSemiSupervisedClassifier(LabelSpreading(), cv=3, random_state=0).fit(X, y_ssl)
    table = pd.DataFrame(safe.cv_results_)
    assert table["candidate"].tolist() == ["semi-supervised", "supervised"]
    assert [c for c in table if c.startswith("split")] == [
        f"split{k}_test_accuracy" for k in range(3)
    ]
    # The mean over equal-sized folds is the out-of-fold accuracy.
    split_mean = table[[f"split{k}_test_accuracy" for k in range(3)]].mean(axis=1)
    np.testing.assert_allclose(split_mean, table["mean_test_accuracy"], atol=0.02)
    gain = table["mean_test_accuracy"][0] - table["mean_test_accuracy"][1]
    assert gain == pytest.approx(safe.cv_gain_["accuracy"])


def test_random_state_fixes_the_folds(moons):
    X, _, y_ssl = moons
    a = SafeSemiSupervisedClassifier(LabelSpreading(), random_state=3).fit(X, y_ssl)
    b = SafeSemiSupervisedClassifier(LabelSpreading(), random_state=3).fit(X, y_ssl)
    assert a.cv_gain_ == b.cv_gain_


def test_sign_test_matches_binomial_tail():
    for wins, losses in [(0, 0), (5, 0), (7, 3), (3, 7), (20, 11)]:
        expected = binom.sf(wins - 1, wins + losses, 0.5) if wins + losses else 1.0
        assert sign_test_pvalue(wins, losses) == pytest.approx(expected)
    # Thousands of discordant rows (large labelled sets): no overflow.
    assert sign_test_pvalue(3000, 2900) == pytest.approx(binom.sf(2999, 5900, 0.5))
    assert sign_test_pvalue(2900, 3000) > 0.9


def test_supervised_counterparts():
    svc = SVC(C=3.0)
    assert supervised_counterpart(SelfTrainingWrapper(svc)).get_params() == svc.get_params()
    assert isinstance(supervised_counterpart(SelfTrainingWrapper()), LogisticRegression)
    knn = KNeighborsClassifier(3)
    assert isinstance(supervised_counterpart(SelfTrainingClassifier(knn)), KNeighborsClassifier)
    erlr = supervised_counterpart(EntropyRegularizedLogisticRegression(C=0.3))
    assert isinstance(erlr, LogisticRegression) and erlr.C == 0.3
    pipe = supervised_counterpart(make_pipeline(StandardScaler(), LabelSpreading()))
    assert isinstance(pipe, Pipeline)
    assert isinstance(pipe.steps[0][1], StandardScaler)
    assert isinstance(pipe.steps[-1][1], LogisticRegression)
    assert isinstance(supervised_counterpart(LabelSpreading()), LogisticRegression)


def test_pipeline_inside_and_string_labels(moons):
    X, y, _ = moons
    y_str = np.array(["left", "right"], dtype=object)[y]
    y_ssl = hide_labels(y_str, n_per_class=25, random_state=0)
    pipe = make_pipeline(StandardScaler(), LabelSpreading())
    safe = SafeSemiSupervisedClassifier(pipe, random_state=0).fit(X, y_ssl)
    assert safe.selected_ == "semi-supervised"
    assert set(safe.predict(X)) <= {"left", "right"}
    assert safe.classes_.tolist() == ["left", "right"]
    assert safe.score(X, y_str) > 0.95


def test_grid_search_over_the_guard(moons):
    X, y, y_ssl = moons
    search = GridSearchCV(
        SafeSemiSupervisedClassifier(LabelSpreading(), cv=3, random_state=0),
        {"estimator__n_neighbors": [5, 10]},
        cv=LabeledStratifiedKFold(3, shuffle=True, random_state=0),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SupervisedFallbackWarning)
        search.fit(X, y_ssl)
    assert search.best_estimator_.selected_ in ("semi-supervised", "supervised")
    assert search.score(X, y) > 0.9


def test_input_not_modified(moons):
    X, _, y_ssl = moons
    X_copy, y_copy = X.copy(), y_ssl.copy()
    SafeSemiSupervisedClassifier(LabelSpreading(), cv=3).fit(X, y_ssl)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y_ssl, y_copy)


def test_refuses_a_single_labelled_class(moons):
    X, _, _ = moons
    y = np.full(X.shape[0], -1)
    y[:10] = 0
    with pytest.raises(ValueError, match="only one class"):
        SafeSemiSupervisedClassifier(LabelSpreading()).fit(X, y)


def test_refuses_a_class_with_one_labelled_row(moons):
    X, y, _ = moons
    y_ssl = np.full(X.shape[0], -1)
    y_ssl[np.flatnonzero(y == 0)[:10]] = 0
    y_ssl[np.flatnonzero(y == 1)[:1]] = 1
    with pytest.raises(ValueError, match="at least 2 labelled rows of every class"):
        SafeSemiSupervisedClassifier(LabelSpreading()).fit(X, y_ssl)


def test_refuses_fewer_labelled_rows_than_folds(moons):
    X, y, _ = moons
    y_ssl = hide_labels(y, n_per_class=2, random_state=0)
    with pytest.raises(ValueError, match="cv=5 folds need at least 5 labelled rows"):
        SafeSemiSupervisedClassifier(LabelSpreading(), cv=5).fit(X, y_ssl)
    # As many folds as labelled rows is fine.
    safe = SafeSemiSupervisedClassifier(LabelSpreading(), cv=4, alpha=1.0).fit(X, y_ssl)
    assert len([k for k in safe.cv_results_ if k.startswith("split")]) == 4


@pytest.mark.parametrize(
    "params, match",
    [({"cv": 1}, "cv"), ({"alpha": 0.0}, "alpha"), ({"alpha": 1.5}, "alpha")],
)
def test_parameter_validation(moons, params, match):
    X, _, y_ssl = moons
    with pytest.raises(ValueError, match=match):
        SafeSemiSupervisedClassifier(LabelSpreading(), **params).fit(X, y_ssl)


def test_fit_params_refused(moons):
    X, _, y_ssl = moons
    with pytest.raises(TypeError, match="takes no fit parameters"):
        SafeSemiSupervisedClassifier(LabelSpreading()).fit(X, y_ssl, sample_weight=np.ones(400))


def test_fallback_message_names_the_failed_conditions(moons):
    X, _, y_ssl = moons
    constant = DummyClassifier(strategy="constant", constant=1)
    with pytest.warns(SupervisedFallbackWarning) as record:
        SafeSemiSupervisedClassifier(constant, random_state=0).fit(X, y_ssl)
    message = str(record[0].message)
    assert "accuracy changed by -" in message and "balanced accuracy fell" in message
    # Higher accuracy but lower balanced accuracy (see the test above), alpha=1:
    # only the balanced accuracy is named, not the sign test.
    rng = np.random.RandomState(0)
    x = np.r_[np.zeros(800), np.full(60, 2.0), np.ones(40)]
    y = np.r_[np.zeros(860, dtype=int), np.ones(40, dtype=int)]
    perm = rng.permutation(x.shape[0])
    only_zero = DummyClassifier(strategy="constant", constant=0)
    safe = SafeSemiSupervisedClassifier(only_zero, supervised_estimator=_Threshold(), alpha=1.0)
    with pytest.warns(SupervisedFallbackWarning) as record:
        safe.fit(x[perm, None], y[perm])
    message = str(record[0].message)
    assert "balanced accuracy fell" in message
    assert "sign test" not in message and "accuracy changed" not in message
    # A small win without evidence: only the sign test is named.
    X2, y2 = make_moons(200, noise=0.3, random_state=1)
    y2_ssl = hide_labels(y2, n_per_class=10, random_state=1)
    safe = SafeSemiSupervisedClassifier(LabelSpreading(), alpha=1e-6, random_state=0)
    with pytest.warns(SupervisedFallbackWarning) as record:
        safe.fit(X2, y2_ssl)
    gain = safe.cv_gain_
    if gain["accuracy"] > 0 and gain["balanced_accuracy"] >= 0:
        message = str(record[0].message)
        assert "sign test p =" in message and "accuracy changed" not in message


def test_other_random_state_other_folds(moons):
    X, _, y_ssl = moons
    splits = []
    for seed in (0, 1):
        safe = SafeSemiSupervisedClassifier(LabelSpreading(), random_state=seed).fit(X, y_ssl)
        splits.append([safe.cv_results_[f"split{k}_test_accuracy"][1] for k in range(5)])
    assert splits[0] != splits[1]


def test_dataframe_sparse_and_parallel_folds(moons):
    from scipy import sparse

    X, _, y_ssl = moons
    dense = SafeSemiSupervisedClassifier(LabelSpreading(), random_state=0).fit(X, y_ssl)
    frame = pd.DataFrame(X, columns=["a", "b"])
    safe = SafeSemiSupervisedClassifier(LabelSpreading(), n_jobs=2, random_state=0)
    safe.fit(frame, y_ssl)
    assert safe.cv_gain_ == dense.cv_gain_  # parallel folds, same result
    np.testing.assert_array_equal(safe.feature_names_in_, ["a", "b"])
    safe = SafeSemiSupervisedClassifier(SelfTrainingWrapper(), random_state=0).fit(
        sparse.csr_matrix(X), y_ssl
    )
    assert safe.predict(sparse.csr_matrix(X[:5])).shape == (5,)


def test_counterpart_through_a_search_and_tags_of_both_models():
    from sklearn.ensemble import HistGradientBoostingClassifier

    search = GridSearchCV(SelfTrainingWrapper(SVC()), {"estimator__C": [1.0, 2.0]})
    assert isinstance(supervised_counterpart(search), SVC)
    # HistGradientBoosting takes NaN, and so does its own counterpart; a
    # LogisticRegression fallback does not, so neither does the guard then.
    wrapper = SelfTrainingWrapper(HistGradientBoostingClassifier())
    assert wrapper.__sklearn_tags__().input_tags.allow_nan
    safe = SafeSemiSupervisedClassifier(wrapper)
    assert safe.__sklearn_tags__().input_tags.allow_nan
    safe.set_params(supervised_estimator=LogisticRegression())
    assert not safe.__sklearn_tags__().input_tags.allow_nan
