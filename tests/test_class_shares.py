"""The class-share signal: class_share_ratio_ and ClassShareDriftWarning."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.dummy import DummyClassifier

from sklearn_ssl import LabelSpreading, SelfTrainingWrapper
from sklearn_ssl.datasets import hide_labels
from sklearn_ssl.exceptions import ClassShareDriftWarning
from sklearn_ssl.utils import class_share_ratio
from sklearn_ssl.utils._class_shares import check_class_shares


class _Named:
    classes_ = np.array(["a", "b", "c"])


@pytest.mark.parametrize(
    "labeled, predicted, expected",
    [
        ([50, 50], [50, 50], 1.0),
        ([50, 50], [90, 10], 0.2),
        ([20, 80], [0, 100], 0.0),
        ([1, 1, 2], [10, 10, 20], 1.0),
        ([10, 10], [0, 0], 1.0),  # nothing predicted: no evidence
        ([10, 0, 10], [5, 90, 5], 0.1),  # a class without labels does not count
    ],
)
def test_class_share_ratio(labeled, predicted, expected):
    assert class_share_ratio(labeled, predicted) == pytest.approx(expected)


def test_check_warns_on_a_collapse_and_names_the_class():
    with pytest.warns(ClassShareDriftWarning, match=r"class 'c' makes up 50.0%.*0.0%"):
        ratio = check_class_shares(_Named(), [25, 25, 50], [60, 40, 0], what="the pseudo-labels")
    assert ratio == 0.0


def test_check_is_silent_without_evidence_or_drift():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClassShareDriftWarning)
        # Drift, but the starved class would have got only 5 rows at its labelled share.
        check_class_shares(_Named(), [10, 10, 10], [10, 5, 0], what="x")
        # Enough rows, little drift.
        check_class_shares(_Named(), [10, 10, 10], [100, 100, 60], what="x")


def test_self_training_collapse_is_reported():
    # A classifier that always predicts the majority pseudo-labels every row with it.
    X, y = make_blobs(600, centers=[[0, 0], [3, 3]], random_state=0)
    y_ssl = hide_labels(y, n_per_class=10, random_state=0)
    y_ssl[np.flatnonzero(y_ssl == 0)[:5]] = -1  # labelled shares 1/3 and 2/3
    wrapper = SelfTrainingWrapper(DummyClassifier(strategy="prior"), random_state=0)
    with pytest.warns(ClassShareDriftWarning, match="of the pseudo-labels"):
        wrapper.fit(X, y_ssl)
    assert wrapper.class_share_ratio_ == 0.0
    assert wrapper.history_[-1]["class_share_ratio"] == 0.0


def test_no_warning_when_shares_hold():
    X, y = make_blobs(600, centers=[[0, 0], [6, 6]], random_state=0)
    y_ssl = hide_labels(y, n_per_class=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ClassShareDriftWarning)
        st = SelfTrainingWrapper(random_state=0).fit(X, y_ssl)
        ls = LabelSpreading().fit(X, y_ssl)
    assert st.class_share_ratio_ > 0.9
    assert ls.class_share_ratio_ > 0.9
    assert all(0.6 < h["class_share_ratio"] <= 1.0 for h in st.history_)


def test_graph_propagation_collapse_is_reported():
    # Two labelled rows of class 1 sit inside a blob of class 0: propagation with
    # one neighbour per row hands almost every unlabelled row to class 0.
    X, _ = make_blobs(400, centers=[[0, 0]], random_state=0)
    y = np.full(400, -1)
    y[:20] = 0
    y[20:40] = 1
    X[20:40] += 50.0  # class 1's labelled rows are far from every unlabelled row
    with pytest.warns(ClassShareDriftWarning, match="propagated"):
        model = LabelSpreading(n_neighbors=3).fit(X, y)
    assert model.class_share_ratio_ < 0.25
