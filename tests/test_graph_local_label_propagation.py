"""LocalLabelPropagation (Zhuang et al. 2019, eq. 1-5): formulas, meta-estimator mode, errors."""

import sys
import warnings

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from sklearn_ssl.datasets import hide_labels
from sklearn_ssl.graph import LocalLabelPropagation


def naive_llp(X, y, K, T, tau, density_weighting=True):
    """Eq. 1-5 of Zhuang et al. 2019 written out densely, row by row."""
    V = X / np.linalg.norm(X, axis=1, keepdims=True)
    L, U = np.flatnonzero(y != -1), np.flatnonzero(y == -1)
    S = V @ V.T
    n_classes = y.max() + 1
    log_rho = np.zeros(len(L))
    if density_weighting:
        for a, i in enumerate(L):
            nearest_unlabeled = np.sort(S[i, U])[::-1][:T]
            log_rho[a] = np.log(np.sum(np.exp(nearest_unlabeled / tau)))  # eq. 4
    out = np.zeros((len(U), n_classes))
    for r, u in enumerate(U):
        score = S[u, L] / tau - log_rho  # log of P(v_i|v) / rho(v_i), up to a constant
        top = np.argsort(-score)[:K]  # N_K^L(v)
        w = np.exp(score[top] - score[top].max())
        np.add.at(out[r], y[L][top], w)  # eq. 5
        out[r] /= out[r].sum()
    return U, out


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(400, n_features=5, centers=4, cluster_std=3.0, random_state=0)
    X += 10.0  # keep rows away from the origin, where cosine similarity is unstable
    return X, y, hide_labels(y, n_per_class=8, random_state=0)


@pytest.mark.parametrize("density_weighting", [True, False])
def test_matches_equations(blobs, density_weighting):
    X, y, y_ssl = blobs
    model = LocalLabelPropagation(
        n_neighbors=5, n_density_neighbors=7, density_weighting=density_weighting
    ).fit(X, y_ssl)
    U, expected = naive_llp(X, y_ssl, K=5, T=7, tau=0.07, density_weighting=density_weighting)
    np.testing.assert_allclose(model.label_distributions_[U], expected, atol=1e-10)
    np.testing.assert_allclose(model.confidence_[U], expected.max(axis=1), atol=1e-10)
    lab = y_ssl != -1
    np.testing.assert_array_equal(model.transduction_[lab], y_ssl[lab])
    np.testing.assert_array_equal(model.confidence_[lab], 1.0)
    assert not model.unreached_.any()


def test_density_weighting_changes_votes(blobs):
    X, y, y_ssl = blobs
    dw = LocalLabelPropagation(n_density_neighbors=7).fit(X, y_ssl)
    no_dw = LocalLabelPropagation(density_weighting=False).fit(X, y_ssl)
    assert not np.allclose(dw.label_distributions_, no_dw.label_distributions_)
    assert np.ptp(dw.log_density_) > 0
    np.testing.assert_array_equal(no_dw.log_density_, 0.0)


def test_predict_new_rows_uses_the_same_vote(blobs):
    X, y, y_ssl = blobs
    model = LocalLabelPropagation().fit(X, y_ssl)
    U = y_ssl == -1
    np.testing.assert_allclose(model.predict_proba(X[U]), model.label_distributions_[U])
    np.testing.assert_array_equal(model.predict(X[U]), model.transduction_[U])
    assert model.score(X, y) > 0.8


def test_blocks_and_jobs_do_not_change_the_result(blobs):
    X, y, y_ssl = blobs
    ref = LocalLabelPropagation().fit(X, y_ssl)
    blocked = LocalLabelPropagation(batch_size=33, n_jobs=2).fit(X, y_ssl)
    np.testing.assert_allclose(blocked.label_distributions_, ref.label_distributions_)
    np.testing.assert_allclose(blocked.log_density_, ref.log_density_)


@pytest.mark.parametrize("joblib_backend", ["threading", "loky", "multiprocessing"])
@pytest.mark.parametrize("neighbors", ["exact", "ivf"])
def test_any_joblib_backend_gives_the_same_result(blobs, joblib_backend, neighbors):
    # "multiprocessing" forks, and a forked child hangs in OpenMP code the parent
    # ran (scikit-learn's neighbour search): the blocks run in threads, with a
    # warning (before, LocalLabelPropagation raised joblib's error about
    # return_as="generator" and LabelSpreading hung).
    import contextlib

    from joblib import parallel_backend

    from sklearn_ssl.graph import LabelSpreading

    if neighbors == "ivf":
        pytest.importorskip("faiss")
    X, y, y_ssl = blobs
    ref = LocalLabelPropagation(neighbors=neighbors, random_state=0).fit(X, y_ssl)
    ref_ls = LabelSpreading(n_neighbors=7, neighbors=neighbors, random_state=0).fit(X, y_ssl)
    forks = joblib_backend == "multiprocessing"
    expect = pytest.warns(UserWarning, match="in threads") if forks else contextlib.nullcontext()
    with parallel_backend(joblib_backend, n_jobs=2), expect:
        llp = LocalLabelPropagation(neighbors=neighbors, random_state=0, batch_size=100)
        llp.fit(X, y_ssl)
        ls = LabelSpreading(n_neighbors=7, neighbors=neighbors, random_state=0, batch_size=100)
        ls.fit(X, y_ssl)
        proba = llp.predict_proba(X[:50])
    np.testing.assert_allclose(llp.label_distributions_, ref.label_distributions_, atol=1e-6)
    np.testing.assert_allclose(ls.label_distributions_, ref_ls.label_distributions_, atol=1e-6)
    np.testing.assert_allclose(proba, ref.predict_proba(X[:50]), atol=1e-6)


def test_joblib_still_has_the_multiprocessing_backend_we_detect():
    # block_parallel reads these private joblib names and does nothing if they
    # move: this test says so before the fork hang comes back.
    from joblib import parallel_backend
    from joblib._parallel_backends import MultiprocessingBackend
    from joblib.parallel import get_active_backend

    from sklearn_ssl.graph._graph import _multiprocessing_active

    with parallel_backend("multiprocessing", n_jobs=2):
        assert isinstance(get_active_backend()[0], MultiprocessingBackend)
        assert _multiprocessing_active(None) == (True, True)
        assert _multiprocessing_active(1) == (True, False)
    assert _multiprocessing_active(2) == (False, False)


def test_multiprocessing_backend_with_one_job_does_not_warn(blobs):
    # n_jobs=1 runs in the process itself: nothing forks, nothing to warn about.
    from joblib import parallel_backend

    X, y, y_ssl = blobs
    with parallel_backend("multiprocessing", n_jobs=2), warnings.catch_warnings():
        warnings.simplefilter("error")
        LocalLabelPropagation(n_jobs=1, batch_size=100).fit(X, y_ssl)


@pytest.mark.parametrize("backend", ["ivf", "hnsw"])
def test_approximate_backends_agree_with_exact(blobs, backend):
    pytest.importorskip("faiss")
    X, y, y_ssl = blobs
    ref = LocalLabelPropagation().fit(X, y_ssl)
    ann = LocalLabelPropagation(neighbors=backend, random_state=0).fit(X, y_ssl)
    assert np.mean(ann.transduction_ == ref.transduction_) > 0.95


def test_ivf_cells_give_the_vote_weights_of_the_neighbours_found():
    # With 4096+ labelled rows the "ivf" vote index is an inverted file scanned in
    # single precision (below that it is an exact scan, as in the test above). The
    # weights come from the distances it returns: they must match eq. 2, 4 and 5
    # evaluated exactly on the labelled rows it returned.
    pytest.importorskip("faiss")
    from sklearn_ssl.graph._graph import _kneighbors
    from sklearn_ssl.graph._local_label_propagation import _augment_query, _unit_rows

    X, y = make_blobs(6000, n_features=12, centers=6, cluster_std=4.0, random_state=0)
    X += 5.0
    y_ssl = y.copy()
    y_ssl[np.random.RandomState(0).rand(6000) < 0.25] = -1
    model = LocalLabelPropagation(neighbors="ivf", random_state=0).fit(X, y_ssl)
    assert type(model.neighbors_.index_).__name__ == "_CellScan"
    U = y_ssl == -1
    V = _unit_rows(X)[U]
    _, ind = _kneighbors(model.neighbors_, _augment_query(V), model.n_neighbors_)
    score = (
        np.einsum("nd,nkd->nk", V, model.labeled_embedding_[ind]) / model.temperature
        - model.log_density_[ind]
    )
    w = np.exp(score - score.max(axis=1, keepdims=True))
    expected = np.zeros((V.shape[0], len(model.classes_)))
    np.add.at(expected, (np.arange(V.shape[0])[:, None], model.labeled_y_[ind]), w)
    expected /= expected.sum(axis=1, keepdims=True)
    # Measured: at most 2e-7 from the exact weights here (float32 distances; the
    # half-precision cells this replaced were 1.1e-4 off).
    np.testing.assert_allclose(model.label_distributions_[U], expected, atol=1e-5)
    exact = LocalLabelPropagation().fit(X, y_ssl)
    assert np.mean(model.transduction_[U] == exact.transduction_[U]) > 0.9


class WeightSpy(ClassifierMixin, BaseEstimator):
    """Records the sample_weight it was fitted with."""

    def fit(self, X, y, sample_weight=None):
        self.classes_ = np.unique(y)
        self.y_ = np.asarray(y)
        self.sample_weight_ = sample_weight
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


class NoWeightClassifier(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_meta_estimator_gets_pseudo_labels_and_confidence(blobs):
    X, y, y_ssl = blobs
    model = LocalLabelPropagation(WeightSpy()).fit(X, y_ssl)
    spy = model.estimator_
    lab = y_ssl != -1
    np.testing.assert_array_equal(spy.y_, model.transduction_)
    np.testing.assert_array_equal(spy.sample_weight_[lab], 1.0)
    np.testing.assert_allclose(spy.sample_weight_[~lab], model.confidence_[~lab])
    assert (spy.sample_weight_[~lab] < 1).any()
    # NoC ablation: no confidence weights.
    no_c = LocalLabelPropagation(WeightSpy(), confidence_weighting=False).fit(X, y_ssl)
    assert no_c.estimator_.sample_weight_ is None


def test_meta_estimator_predicts_new_rows(blobs):
    X, y, y_ssl = blobs
    model = LocalLabelPropagation(LogisticRegression(max_iter=500)).fit(X, y_ssl)
    X_test, y_test = make_blobs(200, n_features=5, centers=4, cluster_std=3.0, random_state=0)
    np.testing.assert_array_equal(model.predict(X_test + 10), model.estimator_.predict(X_test + 10))
    assert model.predict_proba(X_test + 10).shape == (200, 4)
    assert not hasattr(LocalLabelPropagation(KNeighborsClassifier()), "decision_function")


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_meta_estimator_checks_new_rows_like_fit(blobs):
    # The estimator sees validated arrays; reordered or missing columns must fail
    # here, not be predicted silently.
    pd = pytest.importorskip("pandas")
    X, _, y_ssl = blobs
    frame = pd.DataFrame(X, columns=list("abcde"))
    model = LocalLabelPropagation(LogisticRegression(max_iter=500)).fit(frame, y_ssl)
    np.testing.assert_array_equal(model.predict(frame), model.estimator_.predict(X))
    for method in ("predict", "predict_proba"):
        with pytest.raises(ValueError, match="feature names should match"):
            getattr(model, method)(frame[list("edcba")])
        with pytest.raises(ValueError, match="5 features"):
            getattr(model, method)(X[:, :3])


class EmbeddingLogisticRegression(LogisticRegression):
    """A classifier whose ``transform`` is its decision function (an embedding)."""

    def transform(self, X):
        return self.decision_function(X)


def test_iterations_re_embed_with_transform(blobs):
    X, y, y_ssl = blobs
    once = LocalLabelPropagation(EmbeddingLogisticRegression(max_iter=100)).fit(X, y_ssl)
    thrice = LocalLabelPropagation(EmbeddingLogisticRegression(max_iter=100), max_iter=3)
    thrice.fit(X, y_ssl)
    assert once.n_iter_ == 1 and thrice.n_iter_ == 3
    assert thrice.labeled_embedding_.shape[1] == 4  # the decision-function embedding
    # Without transform there is nothing to re-embed: one round.
    lr = LocalLabelPropagation(LogisticRegression(max_iter=100), max_iter=3).fit(X, y_ssl)
    assert lr.n_iter_ == 1


def test_pipeline_gets_the_weight_of_its_last_step(blobs):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, y_ssl = blobs
    model = LocalLabelPropagation(make_pipeline(StandardScaler(), WeightSpy())).fit(X, y_ssl)
    spy = model.estimator_[-1]
    np.testing.assert_allclose(spy.sample_weight_[y_ssl == -1], model.confidence_[y_ssl == -1])


def test_pipeline_weights_under_metadata_routing(blobs):
    # With routing enabled a Pipeline takes sample_weight (it would refuse
    # "<step>__sample_weight") and hands it to the steps that request it.
    import sklearn
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer

    X, y, y_ssl = blobs
    with sklearn.config_context(enable_metadata_routing=True):
        spy = WeightSpy().set_fit_request(sample_weight=True)
        model = LocalLabelPropagation(make_pipeline(Normalizer(), spy)).fit(X, y_ssl)
    np.testing.assert_allclose(model.estimator_[-1].sample_weight_, model.confidence_)


def test_estimator_without_sample_weight(blobs):
    X, y, y_ssl = blobs
    with pytest.raises(ValueError, match="does not accept sample_weight"):
        LocalLabelPropagation(NoWeightClassifier()).fit(X, y_ssl)
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    with pytest.raises(ValueError, match=r"NoWeightClassifier \(the last step of the Pipeline\)"):
        LocalLabelPropagation(make_pipeline(StandardScaler(), NoWeightClassifier())).fit(X, y_ssl)
    LocalLabelPropagation(NoWeightClassifier(), confidence_weighting=False).fit(X, y_ssl)


def test_fewer_labelled_rows_than_k_warns_and_uses_all():
    X, y = make_blobs(60, centers=[[5, 0], [0, 5]], random_state=0)
    y_ssl = hide_labels(y, n_per_class=2, random_state=0)
    with pytest.warns(UserWarning, match="larger than the number of labelled rows"):
        model = LocalLabelPropagation(n_neighbors=10).fit(X, y_ssl)
    assert model.n_neighbors_ == 4
    assert np.mean(model.transduction_ == y) > 0.9
    # Once per fit, not once per round of re-embedding.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rounds = LocalLabelPropagation(EmbeddingLogisticRegression(), n_neighbors=10, max_iter=3)
        rounds.fit(X, y_ssl)
    assert rounds.n_iter_ == 3
    assert sum("larger than the number" in str(w.message) for w in caught) == 1


def test_all_rows_labelled_is_a_knn_vote():
    X, y = make_blobs(60, centers=[[5, 0], [0, 5]], random_state=0)
    model = LocalLabelPropagation(n_neighbors=3).fit(X, y)
    np.testing.assert_array_equal(model.transduction_, y)
    np.testing.assert_array_equal(model.log_density_, 0.0)


def test_float32_sparse_rows_fit_quietly(blobs):
    # float32 norms compared with 1e150 overflowed in the cast (a RuntimeWarning on
    # every fit) and tiny float32 rows came out of length 0.94-1.01.
    from sklearn_ssl.graph._local_label_propagation import _unit_rows

    X, _, y_ssl = blobs
    X_sparse = sparse.csr_matrix(X, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LocalLabelPropagation().fit(X_sparse, y_ssl)
        model.predict(X_sparse)
        V = _unit_rows(X_sparse * np.float32(1e-22))
    np.testing.assert_allclose(np.sqrt(V.multiply(V).sum(axis=1)).A.ravel(), 1.0, rtol=1e-12)


@pytest.mark.parametrize("scale", [1e154, 1e-170, 1e300])
def test_cosine_similarity_at_any_scale(blobs, scale):
    # Squared norms overflow (1e154) or underflow (1e-170): the rows must still be
    # normalised (they were divided by inf, or refused as zero rows).
    X, _, y_ssl = blobs
    ref = LocalLabelPropagation().fit(X, y_ssl)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LocalLabelPropagation().fit(X * scale, y_ssl)
    np.testing.assert_allclose(model.label_distributions_, ref.label_distributions_, atol=1e-12)


def test_bad_input(blobs):
    X, y, y_ssl = blobs
    X_zero = X.copy()
    X_zero[3] = 0.0
    with pytest.raises(ValueError, match="norm is zero"):
        LocalLabelPropagation().fit(X_zero, y_ssl)
    model = LocalLabelPropagation().fit(X, y_ssl)
    with pytest.raises(ValueError, match="norm is zero"):
        model.predict(np.zeros((1, 5)))
    X_nan = X.copy()
    X_nan[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        LocalLabelPropagation().fit(X_nan, y_ssl)
    X_copy, y_copy = X.copy(), y_ssl.copy()
    LocalLabelPropagation().fit(X, y_ssl)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y_ssl, y_copy)


class _FakeDaskArray:
    """Looks like a dask array to the type check."""

    shape = (4, 2)


_FakeDaskArray.__module__ = "dask.array.core"


def test_dask_input_without_dask(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.array", None)
    with pytest.raises(ImportError, match=r"pip install 'sklearn-ssl\[dask\]'"):
        LocalLabelPropagation().fit(_FakeDaskArray(), np.array([0, 1, -1, -1]))


def test_neighbours_must_be_euclidean(blobs):
    from sklearn.neighbors import NearestNeighbors

    X, _, y_ssl = blobs
    with pytest.raises(ValueError, match="Euclidean neighbours"):
        LocalLabelPropagation(neighbors=NearestNeighbors(metric="cosine")).fit(X, y_ssl)
    tree = LocalLabelPropagation(neighbors=NearestNeighbors(algorithm="kd_tree")).fit(X, y_ssl)
    exact = LocalLabelPropagation().fit(X, y_ssl)
    np.testing.assert_allclose(tree.label_distributions_, exact.label_distributions_, atol=1e-10)


class SparseEmbeddingLogisticRegression(LogisticRegression):
    """``transform`` returns the class probabilities as a sparse matrix."""

    def transform(self, X):
        P = self.predict_proba(X)
        return sparse.csr_matrix(np.where(P < 0.05, 0.0, P))


@pytest.mark.parametrize("neighbors", ["exact", "ivf"])
def test_a_sparse_embedding_reaches_every_neighbour_search(blobs, neighbors):
    # Dense X, sparse transform: the faiss backends (dense rows only) failed deep in
    # numpy; the embedding is made dense for them and gives the exact search's labels
    # (not its weights: many embedded rows are equal, and ties are broken differently).
    if neighbors == "ivf":
        pytest.importorskip("faiss")
    X, _, y_ssl = blobs
    params = dict(estimator=SparseEmbeddingLogisticRegression(max_iter=1000), max_iter=2)
    model = LocalLabelPropagation(neighbors=neighbors, **params).fit(X, y_ssl)
    assert model.n_iter_ == 2
    exact = LocalLabelPropagation(**params).fit(X, y_ssl)
    np.testing.assert_array_equal(model.transduction_, exact.transduction_)


def test_re_embedding_with_a_one_column_transform():
    # A binary classifier's decision function is 1-d: it is one embedding column.
    X, y = make_blobs(200, n_features=4, centers=2, random_state=0)
    y_ssl = hide_labels(y, n_per_class=5, random_state=0)
    model = LocalLabelPropagation(EmbeddingLogisticRegression(), max_iter=2).fit(X, y_ssl)
    assert model.n_iter_ == 2 and model.labeled_embedding_.shape[1] == 1
