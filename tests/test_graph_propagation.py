"""LabelPropagation, LabelSpreading and the kNN graph builder."""

import os
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
from joblib import Parallel, delayed
from scipy import sparse
from sklearn.datasets import make_blobs, make_moons
from sklearn.neighbors import NearestNeighbors, kneighbors_graph
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_ssl.datasets import hide_labels
from sklearn_ssl.graph import LabelPropagation, LabelSpreading, LocalLabelPropagation, _graph
from sklearn_ssl.graph._base import UnreachedRowsWarning
from sklearn_ssl.graph._graph import check_neighbors, kneighbors_blocked, knn_affinity

ESTIMATORS = [LabelPropagation, LabelSpreading]


@pytest.fixture(scope="module")
def moons():
    X, y = make_moons(300, noise=0.05, random_state=0)
    return X, y, hide_labels(y, n_per_class=3, random_state=0)


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("kernel", ["knn", "rbf"])
def test_two_moons_three_labels_per_class(Est, kernel, moons):
    X, y, y_ssl = moons
    model = Est(kernel=kernel, n_neighbors=7).fit(X, y_ssl)
    assert np.mean(model.transduction_ == y) > 0.97
    assert not model.unreached_.any()
    np.testing.assert_allclose(model.label_distributions_.sum(axis=1), 1.0)
    # Inductive: new rows from the same moons, through their training neighbours.
    X_new, y_new = make_moons(100, noise=0.05, random_state=1)
    assert np.mean(model.predict(X_new) == y_new) > 0.95
    np.testing.assert_allclose(model.predict_proba(X_new).sum(axis=1), 1.0)


def test_label_propagation_clamps_and_reaches_harmonic_solution():
    X, y = make_blobs(60, centers=2, cluster_std=2.0, random_state=0)
    y_ssl = hide_labels(y, n_per_class=4, random_state=0)
    model = LabelPropagation(n_neighbors=8, tol=1e-10, max_iter=10000).fit(X, y_ssl)
    lab = y_ssl != -1
    np.testing.assert_array_equal(model.transduction_[lab], y_ssl[lab])
    # Harmonic solution (Zhu and Ghahramani): F_u = (I - P_uu)^-1 P_ul Y_l.
    A = kneighbors_graph(X, 8, include_self=False).toarray()
    W = (A + A.T) / 2
    P = W / W.sum(axis=1, keepdims=True)
    u = ~lab
    Y_l = np.eye(2)[y_ssl[lab]]
    F_u = np.linalg.solve(np.eye(u.sum()) - P[np.ix_(u, u)], P[np.ix_(u, lab)] @ Y_l)
    F_u /= F_u.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.label_distributions_[u], F_u, atol=1e-6)


def test_label_spreading_matches_closed_form():
    X, y = make_blobs(60, centers=3, random_state=0)
    y_ssl = hide_labels(y, n_per_class=2, random_state=0)
    alpha = 0.5
    model = LabelSpreading(n_neighbors=6, alpha=alpha, tol=1e-12, max_iter=1000).fit(X, y_ssl)
    # Fixed point of F <- alpha S F + (1 - alpha) Y: (1 - alpha)(I - alpha S)^-1 Y.
    A = kneighbors_graph(X, 6, include_self=False).toarray()
    W = (A + A.T) / 2
    d = 1 / np.sqrt(W.sum(axis=1))
    S = d[:, None] * W * d[None, :]
    Y = np.zeros((60, 3))
    lab = y_ssl != -1
    Y[lab, y_ssl[lab]] = 1
    F = np.linalg.solve(np.eye(60) - alpha * S, (1 - alpha) * Y)
    F /= F.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.label_distributions_, F, atol=1e-8)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_unreached_rows_get_class_prior_not_nan(Est):
    # Two blobs far apart: kNN graph has two components, labels only in the first.
    X, blob = make_blobs(80, centers=[[0, 0], [100, 100]], cluster_std=1.0, random_state=0)
    y = np.full(80, -1)
    first = np.flatnonzero(blob == 0)
    y[first[:3]] = 0
    y[first[3:4]] = 1
    with pytest.warns(UnreachedRowsWarning, match="not reached"):
        model = Est(n_neighbors=5).fit(X, y)
    np.testing.assert_array_equal(model.unreached_, blob == 1)
    assert np.isfinite(model.label_distributions_).all()
    np.testing.assert_allclose(model.class_prior_, [0.75, 0.25])
    np.testing.assert_allclose(model.label_distributions_[blob == 1], [[0.75, 0.25]] * 40)
    assert (model.transduction_[blob == 1] == 0).all()


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_rbf_rows_whose_weights_all_underflow_are_named(Est, moons):
    # A far row has neighbours, but exp(-gamma_ d^2) is 0 on all its edges: more
    # neighbours cannot reach it, so the warning says to lower gamma instead.
    X, _, y_ssl = moons
    X = np.vstack([X, [[30.0, 0.5]]])
    y_ssl = np.r_[y_ssl, -1]
    with pytest.warns(UnreachedRowsWarning, match="1 of them have neighbours.*smaller gamma"):
        model = Est(kernel="rbf", gamma=20.0, n_neighbors=7).fit(X, y_ssl)
    assert np.flatnonzero(model.unreached_).tolist() == [len(X) - 1]


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_precomputed_affinity_equals_knn_graph(Est, moons):
    X, y, y_ssl = moons
    A = kneighbors_graph(X, 7, mode="connectivity", include_self=False)
    ref = Est(n_neighbors=7).fit(X, y_ssl)
    pre = Est(kernel="precomputed").fit(A, y_ssl)
    np.testing.assert_allclose(pre.label_distributions_, ref.label_distributions_)
    # New rows are given by their affinity to the training rows.
    X_new, _ = make_moons(20, noise=0.05, random_state=3)
    A_new = NearestNeighbors(n_neighbors=7).fit(X).kneighbors_graph(X_new)
    np.testing.assert_array_equal(pre.predict(A_new), ref.predict(X_new))
    # The same estimator refitted on a precomputed graph keeps nothing of the
    # neighbour search of its fit on features.
    assert hasattr(ref, "neighbors_") and hasattr(ref, "gamma_")
    assert ref.neighbors_backend_ == "exact"
    ref.set_params(kernel="precomputed").fit(A, y_ssl)
    for attr in ("neighbors_", "neighbors_backend_", "gamma_"):
        assert not hasattr(ref, attr)
    np.testing.assert_array_equal(ref.predict(A_new), pre.predict(A_new))


def test_precomputed_must_be_square_and_nonnegative():
    y = np.array([0, 1, -1])
    with pytest.raises(ValueError, match="square"):
        LabelSpreading(kernel="precomputed").fit(np.ones((3, 4)), y)
    with pytest.raises(ValueError, match="non-negative"):
        LabelSpreading(kernel="precomputed").fit(-np.eye(3), y)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_blocks_and_jobs_do_not_change_the_result(Est, moons):
    X, y, y_ssl = moons
    ref = Est(n_neighbors=7).fit(X, y_ssl)
    blocked = Est(n_neighbors=7, batch_size=37, n_jobs=2).fit(X, y_ssl)
    np.testing.assert_allclose(blocked.label_distributions_, ref.label_distributions_)
    np.testing.assert_array_equal(blocked.predict(X[:50]), ref.predict(X[:50]))


def test_custom_neighbors_object_is_used(moons):
    X, y, y_ssl = moons
    ref = LabelSpreading(n_neighbors=7).fit(X, y_ssl)
    tree = LabelSpreading(n_neighbors=7, neighbors=NearestNeighbors(algorithm="kd_tree"))
    tree.fit(X, y_ssl)
    assert tree.neighbors_.algorithm == "kd_tree"
    np.testing.assert_allclose(tree.label_distributions_, ref.label_distributions_)


class _PlainNeighbors:
    """A neighbours object without get_params, as a wrapper of another library is."""

    def fit(self, X):
        self.nn_ = NearestNeighbors().fit(X)
        return self

    def kneighbors(self, X, n_neighbors):
        return self.nn_.kneighbors(X, n_neighbors)


@pytest.mark.parametrize("Est", [LabelSpreading, LocalLabelPropagation])
def test_neighbors_object_without_get_params(Est, moons):
    # scikit-learn's clone refuses such an object; it is copied instead, unfitted.
    X, _, y_ssl = moons
    given = _PlainNeighbors()
    model = Est(n_neighbors=5, neighbors=given).fit(X, y_ssl)
    ref = Est(n_neighbors=5).fit(X, y_ssl)
    assert not hasattr(given, "nn_")
    np.testing.assert_allclose(model.label_distributions_, ref.label_distributions_, atol=1e-12)


@pytest.mark.parametrize(
    "Est, params",
    [
        (LabelPropagation, {"kernel": "knn"}),
        (LabelPropagation, {"kernel": "rbf"}),
        (LabelSpreading, {"kernel": "knn"}),
        (LabelSpreading, {"kernel": "rbf"}),
        (LocalLabelPropagation, {"n_neighbors": 5}),
        (LocalLabelPropagation, {"n_neighbors": 5, "n_density_neighbors": 10}),
    ],
)
def test_sparse_rows_give_the_dense_result(Est, params, moons):
    # As scikit-learn's LabelSpreading(kernel="knn"), sparse X (TF-IDF) works with
    # the exact search; faiss' backends need dense rows and say so.
    X, _, y_ssl = moons
    X = X + 2.0  # LocalLabelPropagation: no row of norm zero
    dense = Est(**params).fit(X, y_ssl)
    X_sparse = sparse.coo_matrix(X)
    fitted = Est(**params).fit(X_sparse, y_ssl)
    np.testing.assert_allclose(fitted.label_distributions_, dense.label_distributions_, atol=1e-12)
    np.testing.assert_allclose(fitted.predict_proba(X_sparse), dense.predict_proba(X), atol=1e-12)
    with pytest.raises(TypeError, match="neighbors='ivf' searches dense rows"):
        Est(neighbors="ivf").fit(X_sparse, y_ssl)


def test_faiss_rows_left_short_are_searched_again():
    # faiss returns -1 where it finds fewer than k rows: HNSW among many duplicates,
    # an inverted file for outliers alone in their cells. Those rows are searched
    # again exactly; padding them with their first neighbour counted one voter many
    # times and gave an outlier a self-loop.
    pytest.importorskip("faiss")
    from sklearn_ssl.graph._graph import _centred_float32, _FaissHNSW, _FaissIVF

    rng = np.random.RandomState(0)
    X = np.r_[np.repeat(rng.randn(5, 6), 40, axis=0), rng.randn(500, 6)]
    index = _FaissHNSW().fit(X)
    index.index_.hnsw.efSearch = 200  # as kneighbors sets it for k = 100
    raw = index.index_.search(_centred_float32(X, index.shift_, index.scale_), 100)[1]
    short = (raw < 0).any(axis=1)
    assert short.any()  # the situation under test
    dist, ind = index.kneighbors(X, 100)
    exact = NearestNeighbors(n_neighbors=100).fit(X).kneighbors(X)[0]
    np.testing.assert_allclose(np.sort(dist[short], axis=1), exact[short], atol=1e-4)
    assert all(len(set(row)) == 100 for row in ind)

    X = np.r_[np.zeros((5000, 4)), rng.randn(10, 4) * 1000]
    index = _FaissIVF(random_state=0).fit(X)
    assert (index.index_.search(index._prepare(X[-10:]), 10)[1] < 0).any()
    dist, ind = index.kneighbors(X[-10:], 10)
    assert all(len(set(row)) == 10 for row in ind)
    exact = NearestNeighbors(n_neighbors=10).fit(X).kneighbors(X[-10:])[0]
    # Half precision: about 3 digits of the largest coordinates (errors up to 5.5 here).
    np.testing.assert_allclose(np.sort(dist, axis=1), exact, atol=1e-2 * exact.max())
    affinity = LabelSpreading(neighbors="ivf", random_state=0)._affinity(X)
    assert affinity.diagonal().max() == 0  # no self-loops


@pytest.mark.parametrize("backend", ["hnsw", "ivf"])
def test_faiss_backends_agree_with_exact(backend, moons):
    pytest.importorskip("faiss")
    X, y, y_ssl = moons
    ref = LabelSpreading(n_neighbors=7).fit(X, y_ssl)
    ann = LabelSpreading(n_neighbors=7, neighbors=backend, random_state=0).fit(X, y_ssl)
    assert np.mean(ann.transduction_ == ref.transduction_) > 0.97
    assert np.mean(ann.predict(X) == y) > 0.95


@pytest.mark.skipif(
    not os.environ.get("SKLEARN_SSL_SLOW_TESTS"),
    reason="pynndescent compiles with numba for minutes on first use; set SKLEARN_SSL_SLOW_TESTS=1",
)
def test_nndescent_backend(moons):
    pytest.importorskip("pynndescent")
    X, y, y_ssl = moons
    model = LabelSpreading(n_neighbors=7, neighbors="nndescent", random_state=0).fit(X, y_ssl)
    assert np.mean(model.transduction_ == y) > 0.95


def test_kneighbors_blocked_excludes_self_even_with_duplicates():
    X = np.array([[0.0], [0.0], [0.0], [1.0], [2.0], [5.0]])
    index = check_neighbors("exact").fit(X)
    dist, ind = kneighbors_blocked(index, X, 2, batch_size=4, exclude_self=True)
    assert ind.shape == (6, 2)
    assert not (ind == np.arange(6)[:, None]).any()
    np.testing.assert_array_equal(dist[:3, 0], 0.0)


def test_knn_affinity_is_symmetric():
    ind = np.array([[1], [2], [0]])
    W = knn_affinity(np.ones((3, 1)), ind, 3, np.ones((3, 1)))
    assert sparse.issparse(W)
    np.testing.assert_allclose(W.toarray(), W.toarray().T)
    np.testing.assert_allclose(W.toarray()[0], [0, 0.5, 0.5])


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_bad_input(Est):
    X = np.random.RandomState(0).normal(size=(8, 2))
    y = np.array([0, 1, -1, -1, -1, -1, -1, -1])
    with pytest.raises(ValueError, match="n_neighbors=10 must be smaller"):
        Est(n_neighbors=10).fit(X, y)
    X_nan = X.copy()
    X_nan[2, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Est(n_neighbors=3).fit(X_nan, y)
    X_inf = X.copy()
    X_inf[2, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        Est(n_neighbors=3).fit(X_inf, y)
    with pytest.raises(InvalidParameterError, match="neighbors"):
        Est(neighbors="annoy").fit(X, y)
    with pytest.raises(ValueError, match="Unknown label type"):
        Est(n_neighbors=3).fit(X, np.array([0.5, 1.5, -1, -1, -1, -1, -1, -1]))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_input_is_not_modified(Est, moons):
    X, y, y_ssl = moons
    X_copy, y_copy = X.copy(), y_ssl.copy()
    Est(n_neighbors=7).fit(X, y_ssl).predict(X)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y_ssl, y_copy)


def test_string_labels(moons):
    X, y, y_ssl = moons
    names = np.array(["left", "right"], dtype=object)
    y_str = np.where(y_ssl == -1, -1, names[np.clip(y_ssl, 0, 1)]).astype(object)
    model = LabelSpreading(n_neighbors=7).fit(X, y_str)
    assert set(model.classes_) == {"left", "right"}
    assert np.mean(model.transduction_ == names[y]) > 0.97


@pytest.mark.parametrize(
    "offset, scale",
    [
        (0.0, 1.0),
        # float32 resolves 1 at 1e7: without centring, far rows lose their distances.
        (1e7, 1.0),
        (0.0, 1e5),
        (0.0, 1e-8),
        # Unscaled, float32 squares overflow (1e40) or vanish (1e-60).
        (0.0, 1e20),
        (0.0, 1e-30),
        # Beyond float32 itself: scaled in float64 first (1e300 failed deep in
        # numpy, 1e-300 became zeros and gave neighbours at random).
        (0.0, 1e300),
        (0.0, 1e-300),
    ],
)
def test_ivf_index_recall_and_distances(offset, scale):
    # Data far from the origin (offset) or in large or tiny units (scale) must
    # keep recall and distance accuracy.
    pytest.importorskip("faiss")
    from sklearn_ssl.graph._graph import _FLAT_BELOW, _FaissIVF

    rng = np.random.RandomState(0)
    # 5000 rows in 20 clusters, 13 dimensions.
    centers = rng.normal(scale=5.0, size=(20, 13))
    X = centers[rng.randint(20, size=5000)] + rng.normal(size=(5000, 13))
    Q = centers[rng.randint(20, size=300)] + rng.normal(size=(300, 13))
    _, exact_ind = NearestNeighbors(n_neighbors=10).fit(X).kneighbors(Q)  # at any scale
    X, Q = X * scale + offset, Q * scale + offset
    assert X.shape[0] >= _FLAT_BELOW
    index = _FaissIVF(random_state=0).fit(X)
    assert index.index_.nlist == int(np.sqrt(5000))
    dist, ind = index.kneighbors(Q, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ind, exact_ind)])
    assert recall > 0.9
    # The distances returned are those of the rows returned, to float32 precision.
    true = np.linalg.norm((Q[:, None, :] - X[ind]) / scale, axis=2) * scale
    np.testing.assert_allclose(dist, true, rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_cell_scan_finds_the_nearest_rows_of_the_probed_cells(n_threads, monkeypatch):
    # The products over cells, cut into pieces of a few rows and queries, must
    # return exactly the k nearest rows among those of the probed cells.
    faiss = pytest.importorskip("faiss")
    from sklearn_ssl.graph import _graph

    monkeypatch.setattr(_graph, "_CELL_ROWS", 7)
    monkeypatch.setattr(_graph, "_CELL_QUERIES", 5)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(600, 4)).astype(np.float32)
    Q = rng.normal(size=(90, 4)).astype(np.float32)
    quantizer = faiss.IndexFlatL2(4)
    quantizer.add(X[rng.choice(600, 12, replace=False)])
    scan = _graph._CellScan(quantizer, X, nprobe=3)
    omp_before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n_threads)
    try:
        dist2, ids = scan.search(Q, 6)
    finally:
        faiss.omp_set_num_threads(omp_before)
    _, cell_of_row = quantizer.search(X, 1)
    _, probed = quantizer.search(Q, 3)
    for q, cells, d_row, i_row in zip(Q, probed, dist2, ids):
        candidates = np.flatnonzero(np.isin(cell_of_row.ravel(), cells))
        exact = np.sort(np.square(X[candidates] - q).sum(axis=1))[:6]
        np.testing.assert_allclose(d_row, exact, rtol=1e-4, atol=1e-5)
        assert set(i_row) <= set(candidates) and len(set(i_row)) == 6
        np.testing.assert_allclose(np.square(X[i_row] - q).sum(axis=1), d_row, rtol=1e-4, atol=1e-5)
    # A cell probed alone with fewer than k rows leaves -1 and inf, as faiss does.
    dist2, ids = scan.search(Q[:5], 200, nprobe=1)
    assert (ids == -1).any() and np.isinf(dist2[ids == -1]).all()


def test_ivf_index_is_exact_below_threshold():
    pytest.importorskip("faiss")
    from sklearn_ssl.graph._graph import _FaissIVF

    X = np.random.RandomState(1).normal(size=(600, 5))
    dist, ind = _FaissIVF(random_state=0).fit(X).kneighbors(X[:50], 4)
    exact_dist, exact_ind = NearestNeighbors(n_neighbors=4).fit(X).kneighbors(X[:50])
    np.testing.assert_array_equal(ind, exact_ind)
    np.testing.assert_allclose(dist, exact_dist, atol=1e-4)


def test_ivf_index_with_few_queries_uses_fewer_cells_and_finds_more():
    # LocalLabelPropagation's density search: few queries (the labelled rows)
    # against many rows. sqrt(n_probe * n_queries) cells, not sqrt(n).
    pytest.importorskip("faiss")
    from sklearn_ssl.graph._graph import _FaissIVF

    rng = np.random.RandomState(0)
    X = rng.normal(size=(20000, 16))
    Q = rng.normal(size=(50, 16))
    _, exact_ind = NearestNeighbors(n_neighbors=25).fit(X).kneighbors(Q)

    def recall(index):
        _, ind = index.fit(X).kneighbors(Q, 25)
        return np.mean([len(set(a) & set(b)) / 25 for a, b in zip(ind, exact_ind)])

    default = _FaissIVF(random_state=0)
    few = _FaissIVF(n_queries=50, random_state=0)
    default_recall, few_recall = recall(default), recall(few)
    assert default.index_.nlist == int(np.sqrt(20000))
    assert few.index_.nlist == int(np.sqrt(8 * 50))
    assert few_recall > default_recall


def test_ivf_flat_scan_of_rows_of_one_norm_is_exact():
    # Unit rows (or LocalLabelPropagation's augmented vectors) are scanned by inner
    # product; the distances and neighbours returned must still be the Euclidean ones.
    faiss = pytest.importorskip("faiss")
    from sklearn_ssl.graph._graph import _FaissIVF, _InnerProductScan

    rng = np.random.RandomState(2)
    X = rng.normal(size=(800, 7))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Q = rng.normal(size=(60, 7))  # queries of any norm
    index = _FaissIVF(random_state=0).fit(X)
    assert isinstance(index.index_, _InnerProductScan)
    dist, ind = index.kneighbors(Q, 5)
    exact_dist, exact_ind = NearestNeighbors(n_neighbors=5).fit(X).kneighbors(Q)
    np.testing.assert_array_equal(ind, exact_ind)
    np.testing.assert_allclose(dist, exact_dist, atol=1e-4)
    # Rows of different norms keep the Euclidean scan.
    assert isinstance(_FaissIVF().fit(X * rng.uniform(1, 2, (800, 1))).index_, faiss.IndexFlatL2)


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("n_queries, k", [(1, 3), (700, 10), (300, 50)])
def test_inner_product_scan_matches_faiss_flat_scan(n_queries, k, n_threads):
    # NumPy's products with faiss' heaps, in worker threads: the same top-k as
    # faiss' IndexFlatIP (k above the row count pads with -1, as faiss does), and
    # the BLAS and OpenMP thread settings of the caller are left as they were.
    faiss = pytest.importorskip("faiss")
    from threadpoolctl import threadpool_info

    from sklearn_ssl.graph._graph import _InnerProductScan

    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 6)).astype(np.float32)
    Q = rng.normal(size=(n_queries, 6)).astype(np.float32)
    flat = faiss.IndexFlatIP(6)
    flat.add(X)
    expected_D, expected_I = flat.search(Q, k)
    blas_before = [(i["filepath"], i["num_threads"]) for i in threadpool_info()]
    omp_before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n_threads)
    try:
        scores, ids = _InnerProductScan(X).search(Q, k)
        assert faiss.omp_get_max_threads() == n_threads
    finally:
        faiss.omp_set_num_threads(omp_before)
    np.testing.assert_array_equal(ids, expected_I)
    found = ids >= 0
    np.testing.assert_allclose(scores[found], expected_D[found], rtol=1e-6, atol=1e-6)
    assert (~found).sum() == max(0, k - 40) * n_queries
    assert [(i["filepath"], i["num_threads"]) for i in threadpool_info()] == blas_before


@pytest.mark.parametrize("k", [1, 10])
def test_inner_product_scan_with_threshold_keeps_the_exact_top_k(k):
    # Over many rows each heap starts at the k-th largest group maximum: the
    # scores must be faiss' exact top k, ties (repeated rows, a query scoring 0
    # everywhere) and a row count that leaves padding in the last group included.
    faiss = pytest.importorskip("faiss")
    from sklearn_ssl.graph._graph import _SCAN_GROUP, _InnerProductScan

    rng = np.random.RandomState(k)
    X = rng.normal(size=(1003, 5)).astype(np.float32)
    X[500:520] = X[3]  # 21 equal rows: ties across the k-th place
    Q = np.vstack([rng.normal(size=(600, 5)), X[3], np.zeros(5)]).astype(np.float32)
    scan = _InnerProductScan(X)
    assert scan.n_groups_ > 2 * k and 1003 % _SCAN_GROUP  # the thresholded path
    scores, ids = scan.search(Q, k)
    flat = faiss.IndexFlatIP(5)
    flat.add(X)
    expected_D, _ = flat.search(Q, k)
    np.testing.assert_allclose(scores, expected_D, rtol=1e-6, atol=1e-6)
    assert ((ids >= 0) & (ids < 1003)).all()
    assert all(len(set(row)) == k for row in ids)  # k different rows
    # Each id's own score, best first (the order faiss returns).
    np.testing.assert_allclose(np.einsum("ij,ikj->ik", Q, X[ids]), scores, atol=1e-5)
    assert (np.diff(scores, axis=1) <= 0).all()


def test_scan_workers_finish_before_an_error_is_raised():
    # A worker that fails: the error reaches the caller only once every worker is
    # done, and the BLAS thread limit is lifted after them, not under them.
    from threadpoolctl import threadpool_info

    from sklearn_ssl.graph._graph import _run_in_workers

    before = [(i["filepath"], i["num_threads"]) for i in threadpool_info()]
    done = []

    def work(next_start):
        while (start := next_start()) is not None:
            if start == 0:
                raise RuntimeError("block 0 failed")
            time.sleep(0.002)
            done.append(start)

    with pytest.raises(RuntimeError, match="block 0 failed"):
        _run_in_workers(work, range(40), 2)
    finished = len(done)
    time.sleep(0.05)
    assert len(done) == finished == 39  # the other worker took every other block
    assert [(i["filepath"], i["num_threads"]) for i in threadpool_info()] == before


def test_inner_product_scan_from_concurrent_threads_restores_blas_threads():
    # Two joblib threads searching at once: the BLAS limit is counted, so the
    # first to finish does not lift it under the other, nor leave it set after.
    faiss = pytest.importorskip("faiss")
    from threadpoolctl import threadpool_info

    from sklearn_ssl.graph._graph import _InnerProductScan

    rng = np.random.RandomState(0)
    scan = _InnerProductScan(rng.normal(size=(300, 8)))
    queries = [rng.normal(size=(2000, 8)) for _ in range(6)]
    before = [(i["filepath"], i["num_threads"]) for i in threadpool_info()]

    def search(q):
        # Each calling thread keeps its OpenMP setting (faiss reads it), whichever
        # thread lifts the BLAS limit.
        omp_before = faiss.omp_get_max_threads()
        result = scan.search(q, 5)
        assert faiss.omp_get_max_threads() == omp_before
        return result

    results = Parallel(n_jobs=2, prefer="threads")(delayed(search)(q) for q in queries)
    assert [(i["filepath"], i["num_threads"]) for i in threadpool_info()] == before
    for q, (_, ind) in zip(queries, results):
        expected = np.argsort(-(q.astype(np.float32) @ scan.xb_[: scan.ntotal].T), axis=1)[:, :5]
        assert np.mean(ind == expected) > 0.999


def test_blas_limit_takes_effect_from_any_thread():
    # threadpoolctl (>= 3.6) lets only a "controlling" thread change a pthreads
    # OpenBLAS and ignores the others: a limit entered from a joblib thread did
    # nothing, and one lifted from another thread left BLAS at one thread for good.
    # In a fresh process, so that no earlier test has made a thread the controller.
    pytest.importorskip("faiss")
    code = """
import threading
from threadpoolctl import threadpool_info
from sklearn_ssl.graph._graph import _blas_controller, _one_blas_thread

paths = {c.filepath for c in _blas_controller().lib_controllers}
assert paths, "no BLAS library to limit"
def counts():
    return sorted({i["num_threads"] for i in threadpool_info() if i["filepath"] in paths})
before = counts()
with _one_blas_thread():  # the main thread first, as a plain fit does
    seen = [counts()]
assert counts() == before
def worker(enter, leave, out, end):
    with _one_blas_thread():
        enter.set()
        seen.append(counts())
        leave.wait()
    out.set()
    end.wait()  # stays alive after leaving the limit
a_in, b_in, a_go, b_go, a_out, b_out, end = (threading.Event() for _ in range(7))
a = threading.Thread(target=worker, args=(a_in, a_go, a_out, end))
b = threading.Thread(target=worker, args=(b_in, b_go, b_out, end))
a.start(); a_in.wait(); b.start(); b_in.wait()
a_go.set(); a_out.wait()
seen.append(counts())  # b is still inside: the limit holds
b_go.set(); b_out.wait()
after = counts()  # lifted by b while a, which entered first, is alive
end.set(); a.join(); b.join()
print(before, seen, after)
assert seen == [[1], [1], [1], [1]], seen
assert after == before, (after, before)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("backend", ["hnsw", "ivf"])
@pytest.mark.parametrize(
    "scale, offset", [(1e-4, 0.0), (1.0, 1e7), (1e3, -1e7), (1e300, 0.0), (1e-300, 0.0)]
)
def test_faiss_backends_find_neighbours_at_any_scale_and_offset(backend, scale, offset, moons):
    # faiss searches in float32: data far from the origin must be centred first
    # (resolution 1 at 1e7), tiny data must not pass for rows of one norm (which
    # the flat scan ranks by inner product), and data beyond float32's range
    # (1e300 overflowed, 1e-300 became zeros) is scaled in float64 first.
    pytest.importorskip("faiss")
    X, _, y_ssl = moons
    Z = X * scale + offset
    # Neighbours do not change with the scale (NumPy's squares overflow at 1e300).
    _, exact = NearestNeighbors(n_neighbors=7).fit(X).kneighbors(X)
    index = check_neighbors(backend, random_state=0).fit(Z)
    dist, ind = index.kneighbors(Z, 7)
    recall = np.mean([len(set(a) & set(b)) / 7 for a, b in zip(ind, exact)])
    assert recall > 0.97
    true = np.linalg.norm((Z[:, None, :] - Z[ind]) / scale, axis=2) * scale
    np.testing.assert_allclose(dist, true, rtol=1e-3, atol=1e-4 * scale)
    ref = LabelSpreading(n_neighbors=7).fit(X, y_ssl)
    ann = LabelSpreading(n_neighbors=7, neighbors=backend, random_state=0).fit(Z, y_ssl)
    assert np.mean(ann.transduction_ == ref.transduction_) > 0.97


def test_ivf_flat_scan_of_unit_rows_bunched_in_one_direction():
    # Unit rows that differ by 1e-4 around one direction: float32 inner products
    # cannot rank them (recall 0.03 by inner product); the centred Euclidean scan can.
    faiss = pytest.importorskip("faiss")
    from sklearn_ssl.graph._graph import _FaissIVF

    X, _ = make_moons(400, noise=0.05, random_state=0)
    U = np.column_stack([np.ones(len(X)), 1e-4 * X])
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    index = _FaissIVF(random_state=0).fit(U)
    assert isinstance(index.index_, faiss.IndexFlatL2)
    _, ind = index.kneighbors(U, 7)
    _, exact = NearestNeighbors(n_neighbors=7).fit(U).kneighbors(U)
    assert np.mean([len(set(a) & set(b)) / 7 for a, b in zip(ind, exact)]) > 0.97
    # float32 rows are searched without a float64 copy of them, with the same result.
    _, ind32 = _FaissIVF(random_state=0).fit(U.astype(np.float32)).kneighbors(U, 7)
    assert np.mean(ind32 == ind) > 0.97


def test_local_label_propagation_sizes_its_density_cells_by_the_labelled_rows(monkeypatch):
    pytest.importorskip("faiss")
    from sklearn_ssl.graph import LocalLabelPropagation
    from sklearn_ssl.graph._graph import _FaissIVF

    seen = []
    fit = _FaissIVF.fit

    def recording_fit(self, X):
        seen.append((X.shape[0], self.n_queries))
        return fit(self, X)

    monkeypatch.setattr(_FaissIVF, "fit", recording_fit)
    X, y = make_blobs(n_samples=5000, centers=3, random_state=0)
    y_ssl = hide_labels(y, n_per_class=20, random_state=0)
    LocalLabelPropagation(neighbors="ivf", random_state=0).fit(X, y_ssl)
    # The density index over the 4940 unlabelled rows expects the 60 labelled rows
    # as queries; the vote index over the labelled rows expects no hint.
    assert seen == [(4940, 60), (60, None)]


def test_label_spreading_reaches_rows_whose_mass_underflows():
    # A chain of 1200 points labelled at its ends: with alpha=0.2 the mass shrinks
    # about 10x per hop and underflows after ~320 hops. Every row is connected to a
    # label, so every row must get one (the nearer end's), not the prior fallback.
    X = np.arange(1200.0)[:, None]
    y = np.full(1200, -1)
    y[0], y[-1] = 0, 1
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnreachedRowsWarning)
        model = LabelSpreading(n_neighbors=2, max_iter=3000).fit(X, y)
    assert not model.unreached_.any()
    np.testing.assert_array_equal(model.transduction_, np.repeat([0, 1], 600))
    assert model.n_iter_ > 600  # the far half is reached only after ~600 steps
    # Rows that max_iter leaves unreached stay flagged (no rerun for them).
    with pytest.warns(UnreachedRowsWarning):
        short = LabelSpreading(n_neighbors=2, max_iter=30).fit(X, y)
    assert short.unreached_.sum() > 1000


def test_label_spreading_with_exponents_matches_the_plain_iteration(moons, monkeypatch):
    from sklearn_ssl.graph import _label_spreading

    X, _, y_ssl = moons
    plain = LabelSpreading(n_neighbors=7).fit(X, y_ssl)
    monkeypatch.setattr(_label_spreading, "_TINY_MASS", 1e300)  # every row takes the rerun
    scaled = LabelSpreading(n_neighbors=7).fit(X, y_ssl)
    np.testing.assert_allclose(scaled.label_distributions_, plain.label_distributions_, atol=1e-12)
    assert scaled.n_iter_ == plain.n_iter_


def test_precomputed_kernels_have_no_self_loops_and_no_negative_affinities():
    # A dense rbf kernel (diagonal of ones) gives scikit-learn's rbf LabelSpreading,
    # which sets W_ii = 0; negative affinities are refused in predict as in fit.
    from sklearn.metrics.pairwise import rbf_kernel
    from sklearn.semi_supervised import LabelSpreading as SkLabelSpreading

    X, y = make_moons(300, noise=0.1, random_state=0)
    y_ssl = hide_labels(y, n_per_class=5, random_state=0)
    ours = LabelSpreading(kernel="precomputed", max_iter=1000, tol=1e-9)
    ours.fit(rbf_kernel(X, gamma=5), y_ssl)
    ref = SkLabelSpreading(kernel="rbf", gamma=5, max_iter=1000, tol=1e-9).fit(X, y_ssl)
    np.testing.assert_allclose(ours.label_distributions_, ref.label_distributions_, atol=1e-4)
    with pytest.raises(ValueError, match="non-negative"):
        ours.predict_proba(rbf_kernel(X[:5], X, gamma=5) - 0.5)


def test_zero_tol_converges_when_nothing_changes():
    X, y = make_moons(100, noise=0.1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LabelPropagation(n_neighbors=5, tol=0, max_iter=50).fit(X, y)
    assert model.n_iter_ == 1


# -- neighbors="auto" -------------------------------------------------------------

ALL_ESTIMATORS = [LabelPropagation, LabelSpreading, LocalLabelPropagation]


def _auto_min_samples(monkeypatch, n_samples):
    """Make "auto" switch to "ivf" from ``n_samples`` rows, for every estimator."""
    for kind in _graph.AUTO_IVF_MIN_SAMPLES:
        monkeypatch.setitem(_graph.AUTO_IVF_MIN_SAMPLES, kind, n_samples)


@pytest.mark.parametrize("Est", ALL_ESTIMATORS)
def test_auto_is_the_default_and_exact_below_the_threshold(Est, moons):
    X, _, y_ssl = moons
    X = X + 2.0  # LocalLabelPropagation: no row of norm zero
    assert Est().neighbors == "auto"
    auto = Est(n_neighbors=5).fit(X, y_ssl)
    exact = Est(n_neighbors=5, neighbors="exact").fit(X, y_ssl)
    assert auto.neighbors_backend_ == "exact" == exact.neighbors_backend_
    np.testing.assert_array_equal(auto.label_distributions_, exact.label_distributions_)
    np.testing.assert_array_equal(auto.predict_proba(X[:40]), exact.predict_proba(X[:40]))


@pytest.mark.parametrize("Est", ALL_ESTIMATORS)
def test_auto_uses_ivf_from_the_threshold_with_faiss(Est, moons, monkeypatch):
    pytest.importorskip("faiss")
    X, _, y_ssl = moons  # 300 rows
    X = X + 2.0
    _auto_min_samples(monkeypatch, 301)
    assert Est(n_neighbors=5).fit(X, y_ssl).neighbors_backend_ == "exact"
    _auto_min_samples(monkeypatch, 300)  # at the threshold: ivf
    auto = Est(n_neighbors=5, random_state=0).fit(X, y_ssl)
    ivf = Est(n_neighbors=5, neighbors="ivf", random_state=0).fit(X, y_ssl)
    assert auto.neighbors_backend_ == "ivf" and auto.neighbors == "auto"
    assert type(auto.neighbors_) is type(ivf.neighbors_)
    # The same search as neighbors="ivf" (float32 rows for LocalLabelPropagation too).
    np.testing.assert_array_equal(auto.label_distributions_, ivf.label_distributions_)
    np.testing.assert_array_equal(auto.predict_proba(X[:40]), ivf.predict_proba(X[:40]))
    # A dense fit chose ivf, which cannot search sparse rows: said clearly.
    with pytest.raises(TypeError, match="neighbors='auto' chose 'ivf' in fit"):
        auto.predict(sparse.csr_matrix(X[:5]))


@pytest.mark.parametrize("Est", ALL_ESTIMATORS)
def test_auto_without_faiss_is_exact_at_any_size(Est, moons, monkeypatch):
    X, _, y_ssl = moons
    X = X + 2.0
    _auto_min_samples(monkeypatch, 1)
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss raises ImportError
    assert not _graph._faiss_installed()
    model = Est(n_neighbors=5).fit(X, y_ssl)
    assert model.neighbors_backend_ == "exact"
    ref = Est(n_neighbors=5, neighbors="exact").fit(X, y_ssl)
    np.testing.assert_array_equal(model.label_distributions_, ref.label_distributions_)


@pytest.mark.parametrize("Est", ALL_ESTIMATORS)
def test_auto_takes_sparse_rows_at_any_size(Est, moons, monkeypatch):
    X, _, y_ssl = moons
    X = X + 2.0
    _auto_min_samples(monkeypatch, 1)
    assert Est().__sklearn_tags__().input_tags.sparse
    assert not Est(neighbors="ivf").__sklearn_tags__().input_tags.sparse
    X_sparse = sparse.csr_matrix(X)
    model = Est(n_neighbors=5).fit(X_sparse, y_ssl)
    assert model.neighbors_backend_ == "exact"
    ref = Est(n_neighbors=5, neighbors="exact").fit(X, y_ssl)
    np.testing.assert_allclose(model.label_distributions_, ref.label_distributions_, atol=1e-12)
    np.testing.assert_allclose(model.predict_proba(X_sparse), ref.predict_proba(X), atol=1e-12)


@pytest.mark.parametrize("Est", ALL_ESTIMATORS)
def test_neighbors_parameter_validation(Est, moons):
    X, _, y_ssl = moons
    with pytest.raises(InvalidParameterError, match="'auto'"):
        Est(neighbors="automatic").fit(X + 2.0, y_ssl)
    with pytest.raises(InvalidParameterError, match="neighbors"):
        Est(neighbors=None).fit(X + 2.0, y_ssl)


def test_resolve_neighbors_rule(monkeypatch):
    X = np.zeros((100, 3))
    given = NearestNeighbors()
    for kind in ("knn_graph", "local"):
        assert _graph.resolve_neighbors(given, X, kind) is given
        assert _graph.resolve_neighbors("hnsw", X, kind) == "hnsw"
    monkeypatch.setitem(_graph.AUTO_IVF_MIN_SAMPLES, "knn_graph", 100)
    monkeypatch.setitem(_graph.AUTO_IVF_MIN_SAMPLES, "local", 101)
    monkeypatch.setattr(_graph, "_faiss_installed", lambda: True)
    assert _graph.resolve_neighbors("auto", X, "knn_graph") == "ivf"
    assert _graph.resolve_neighbors("auto", X, "local") == "exact"
    assert _graph.resolve_neighbors("auto", sparse.csr_matrix(X), "knn_graph") == "exact"
    monkeypatch.setattr(_graph, "_faiss_installed", lambda: False)
    assert _graph.resolve_neighbors("auto", X, "knn_graph") == "exact"
    with pytest.raises(ValueError, match="resolve_neighbors"):
        check_neighbors("auto")
