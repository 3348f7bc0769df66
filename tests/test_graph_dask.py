"""The graph family on a real dask.distributed cluster equals the single-machine result."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from sklearn_ssl.datasets import hide_labels
from sklearn_ssl.graph import LabelSpreading, LocalLabelPropagation

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


@pytest.fixture(scope="module")
def data():
    X, y = make_blobs(600, n_features=6, centers=5, cluster_std=3.0, random_state=0)
    X += 10.0
    return X, y, hide_labels(y, n_per_class=6, random_state=0)


def test_llp_on_dask_array_equals_numpy(client, data):
    X, y, y_ssl = data
    ref = LocalLabelPropagation(n_density_neighbors=10).fit(X, y_ssl)
    X_dask = da.from_array(X, chunks=(130, 6))
    model = LocalLabelPropagation(n_density_neighbors=10).fit(X_dask, y_ssl)
    np.testing.assert_allclose(model.log_density_, ref.log_density_, rtol=1e-10)
    np.testing.assert_allclose(model.label_distributions_, ref.label_distributions_, atol=1e-10)
    np.testing.assert_array_equal(model.transduction_, ref.transduction_)
    np.testing.assert_array_equal(model.predict(X[:50]), ref.predict(X[:50]))


@pytest.mark.parametrize("scale", [1e154, 1e-170])
def test_dask_rows_are_normalised_at_any_scale(client, data, scale):
    # Squared norms overflow or underflow there: the dask path normalises as the
    # NumPy one does (it divided by inf, or refused every row as a zero row).
    X, _, y_ssl = data
    ref = LocalLabelPropagation(n_density_neighbors=10).fit(X, y_ssl)
    X_dask = da.from_array(X * scale, chunks=(130, 6))
    model = LocalLabelPropagation(n_density_neighbors=10).fit(X_dask, y_ssl)
    np.testing.assert_allclose(model.label_distributions_, ref.label_distributions_, atol=1e-10)
    X_zero = X.copy()
    X_zero[[3, 400]] = 0.0
    with pytest.raises(ValueError, match="2 row"):
        LocalLabelPropagation().fit(da.from_array(X_zero, chunks=(130, 6)), y_ssl)


def test_dask_input_with_a_list_of_string_labels(client, data):
    # A list's integer -1 marks unlabelled rows beside string labels, as with NumPy X.
    X, _, y_ssl = data
    names = np.array(["a", "b", "c", "d", "e"], dtype=object)
    y_list = [-1 if v == -1 else names[v] for v in y_ssl]
    ref = LocalLabelPropagation(n_density_neighbors=10).fit(X, y_list)
    model = LocalLabelPropagation(n_density_neighbors=10).fit(da.from_array(X, chunks=130), y_list)
    assert list(model.classes_) == list(names)
    np.testing.assert_array_equal(model.transduction_, ref.transduction_)


# joblib's dask backend keys a dict by id(obj) with a weakref callback that deletes
# the entry; when an id is reused before the old object's callback runs, the later
# callback raises KeyError inside joblib (joblib/_dask.py, _WeakKeyDictionary), which
# pytest reports now and then as an unraisable-exception warning. Not ours to fix.
@pytest.mark.filterwarnings(
    "ignore:Exception ignored in. <function _WeakKeyDictionary"
    ":pytest.PytestUnraisableExceptionWarning"
)
def test_joblib_dask_backend_equals_numpy(client, data):
    from joblib import parallel_backend

    X, y, y_ssl = data
    ref_llp = LocalLabelPropagation().fit(X, y_ssl)
    ref_ls = LabelSpreading(n_neighbors=7).fit(X, y_ssl)
    with parallel_backend("dask"):
        llp = LocalLabelPropagation(batch_size=100, n_jobs=-1).fit(X, y_ssl)
        ls = LabelSpreading(n_neighbors=7, batch_size=100, n_jobs=-1).fit(X, y_ssl)
    np.testing.assert_allclose(llp.label_distributions_, ref_llp.label_distributions_, atol=1e-10)
    np.testing.assert_allclose(ls.label_distributions_, ref_ls.label_distributions_, atol=1e-10)


def test_dask_input_with_unsupported_options(client, data):
    X, y, y_ssl = data
    X_dask = da.from_array(X, chunks=(130, 6))
    with pytest.raises(ValueError, match="dask array"):
        LocalLabelPropagation(neighbors="ivf").fit(X_dask, y_ssl)
    assert not hasattr(LocalLabelPropagation(neighbors="ivf"), "neighbors_backend_")


def test_dask_input_with_auto_is_exact_at_any_size(client, data, monkeypatch):
    from sklearn_ssl.graph import _graph

    X, y, y_ssl = data
    monkeypatch.setitem(_graph.AUTO_IVF_MIN_SAMPLES, "local", 1)
    model = LocalLabelPropagation(n_density_neighbors=10).fit(da.from_array(X, chunks=130), y_ssl)
    assert model.neighbors_backend_ == "exact"
    ref = LocalLabelPropagation(n_density_neighbors=10, neighbors="exact").fit(X, y_ssl)
    np.testing.assert_allclose(model.label_distributions_, ref.label_distributions_, atol=1e-10)


def test_chunks_of_labelled_rows_only(client, data):
    # Labelled rows first (data concatenated that way): whole chunks without an
    # unlabelled row to vote for, and a fully labelled y.
    X, y, y_ssl = data
    order = np.argsort(y_ssl == -1, kind="stable")
    X, y_ssl = X[order], y_ssl[order]
    ref = LocalLabelPropagation(n_density_neighbors=10).fit(X, y_ssl)
    model = LocalLabelPropagation(n_density_neighbors=10).fit(da.from_array(X, chunks=10), y_ssl)
    np.testing.assert_allclose(model.label_distributions_, ref.label_distributions_, atol=1e-10)
    full = LocalLabelPropagation().fit(da.from_array(X, chunks=100), y[order])
    full_ref = LocalLabelPropagation().fit(X, y[order])
    np.testing.assert_allclose(full.label_distributions_, full_ref.label_distributions_)
    np.testing.assert_array_equal(full.transduction_, y[order])


def test_dask_input_of_unknown_chunk_sizes(client, data):
    X, y, y_ssl = data
    X_dask = da.from_array(X, chunks=100)
    masked = X_dask[X_dask[:, 0] > -np.inf]
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        LocalLabelPropagation().fit(masked, y_ssl)
    model = LocalLabelPropagation().fit(masked.compute_chunk_sizes(), y_ssl)
    ref = LocalLabelPropagation().fit(X, y_ssl)
    np.testing.assert_allclose(model.label_distributions_, ref.label_distributions_, atol=1e-10)
