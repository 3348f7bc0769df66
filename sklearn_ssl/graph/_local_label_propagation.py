"""Local label propagation (Zhuang et al. 2019, eq. 1-5): density-weighted labelled votes."""

import warnings
from numbers import Integral, Real

import numpy as np
from joblib import delayed
from scipy import sparse
from scipy.special import logsumexp
from sklearn.base import _fit_context, clone
from sklearn.neighbors import NearestNeighbors
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.extmath import row_norms
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    check_is_fitted,
    validate_data,
)

from ..utils._labels import check_labeled_targets, check_semi_supervised_y
from ..utils._weights import accepts_sample_weight, sample_weight_params, weight_taker_name
from ._base import BaseGraphPropagation
from ._graph import (
    NEIGHBORS_OPTIONS,
    _is_dask_collection,
    _is_faiss,
    _kneighbors,
    _row_blocks,
    block_parallel,
    check_neighbors,
    resolve_neighbors,
)


def _import_dask():
    try:
        import dask
        import dask.array
    except ImportError as exc:
        raise ImportError(
            "X is a dask array, but dask is not installed (or dask.array cannot be "
            "imported). Install it with: pip install 'sklearn-ssl[dask]'."
        ) from exc
    return dask


def _is_exact(neighbors):
    # isinstance first: == would call a neighbours object's __eq__.
    return isinstance(neighbors, str) and neighbors == "exact"


def _zero_rows_error(n_zero):
    return ValueError(
        f"X has {n_zero} row(s) whose norm is zero. LocalLabelPropagation compares rows "
        "by cosine similarity (Zhuang et al. 2019, eq. 1), which is undefined for a zero vector. "
        "Remove those rows, or add a constant feature so that no row is all zeros."
    )


def _unit_rows(X, dtype=np.float64):
    """Rows of ``X`` scaled to norm 1 (computed in float64, returned as ``dtype``)."""
    if sparse.issparse(X):
        X = sparse.csr_matrix(X, dtype=np.float64)  # float32 squares overflow at 1e19
    else:
        X = np.asarray(X, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore"):
        norms = row_norms(X)  # no N x d temporary of squares (np.linalg.norm makes one)
    extreme = ~((norms > 1e-150) & (norms < 1e150))
    if extreme.any():
        # Squares that overflow to inf or underflow to 0 (|x| near 1e155 or 1e-160):
        # those rows are divided by their largest entry first (in a copy); cosine
        # ignores scale.
        if sparse.issparse(X):
            peak = np.asarray(abs(X).max(axis=1).todense()).ravel()
        else:
            peak = np.abs(X).max(axis=1)
        shrink = np.where(extreme & (peak > 0), peak, 1.0)
        if sparse.issparse(X):
            X = sparse.csr_matrix(X.multiply(1.0 / shrink[:, None]))
        else:
            X = X / shrink[:, None]
        norms = row_norms(X)
    zero = ~(norms > 0)
    if zero.any():
        raise _zero_rows_error(int(zero.sum()))
    if sparse.issparse(X):
        return sparse.csr_matrix(X.multiply(1.0 / norms[:, None]), dtype=np.float64)
    return np.divide(X, norms[:, None], out=np.empty(X.shape, dtype), casting="same_kind")


def _with_columns(V, *columns):
    """``V`` with extra columns appended (sparse when ``V`` is)."""
    if sparse.issparse(V):
        return sparse.hstack([V, np.column_stack(columns)], format="csr")
    return np.column_stack([V, *columns])


def _top_similarities(V_ref, V_query, k):
    """Exact top-``k`` cosine similarities of each query row among the rows of ``V_ref``."""
    k = min(k, V_ref.shape[0])
    if k == 0:
        return np.empty((V_query.shape[0], 0))
    nn = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(V_ref)
    dist, _ = nn.kneighbors(V_query)
    # Unit vectors: v.w = 1 - |v - w|^2 / 2.
    return 1.0 - 0.5 * np.square(dist)


def _density_task(V_block, unlabeled_block, V_lab, n_density_neighbors):
    """Top similarities of the labelled rows among this block's unlabelled rows."""
    return _top_similarities(V_block[unlabeled_block], V_lab, n_density_neighbors)


def _merge_top(best, part, k):
    both = part if best is None else np.concatenate([best, part], axis=1)
    if both.shape[1] > k:
        both = -np.partition(-both, k - 1, axis=1)[:, :k]
    return both


def _augment_reference(V_lab, bias):
    # Maximum inner product search with a per-point bias, as Euclidean search:
    # with q' = [q, 1, 0] and a' = [a, b, sqrt(phi^2 - |a|^2 - b^2)],
    # |q' - a'|^2 = |q|^2 + 1 + phi^2 - 2 (q.a + b), so nearest = highest q.a + b.
    sq = 1.0 + np.square(bias)
    return _with_columns(V_lab, bias, np.sqrt(sq.max() - sq))


def _augment_query(V):
    n = V.shape[0]
    if sparse.issparse(V):
        return _with_columns(V, np.ones(n), np.zeros(n))
    query = np.zeros((n, V.shape[1] + 2), dtype=V.dtype)  # float32 rows stay float32
    query[:, :-2] = V
    query[:, -2] = 1.0
    return query


def _vote_task(V_block, index, y_lab, n_classes, k, temperature, weighted):
    """Class votes of the rows of ``V_block`` (Zhuang et al. 2019, eq. 5)."""
    if V_block.shape[0] == 0:  # a dask chunk of labelled rows only
        return np.zeros((0, n_classes))
    query = _augment_query(V_block) if weighted else V_block
    dist, ind = _kneighbors(index, query, k)
    # The index ranks by v_i . v / tau - log rho(v_i) through Euclidean distance:
    # with unit rows (and the augmented vectors above) |q - a|^2 = c - 2 tau (that
    # score), c the same for every pair, so the log-weights of eq. 2 and 4 are
    # -|q - a|^2 / (2 tau) up to a per-row constant. Exact for exact and flat
    # searches; the single-precision cells of "ivf" over 4096+ labelled rows move
    # the normalised weights by 2e-7 in the test of that path (held to 1e-5).
    logits = np.square(dist) / (-2.0 * temperature)
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    n = V_block.shape[0]
    cells = np.arange(n)[:, None] * n_classes + y_lab[ind]
    return np.bincount(cells.ravel(), weights.ravel(), minlength=n * n_classes).reshape(
        n, n_classes
    )


class LocalLabelPropagation(BaseGraphPropagation):
    """Local label propagation: votes of the labelled neighbours, weighted by density.

    Each unlabelled row ``v`` (L2-normalised) takes votes from the ``K``
    labelled rows ``v_i`` with the highest density-weighted probability
    ``exp(v_i . v / tau) / rho(v_i)``, where ``rho(v_i)`` sums
    ``exp(v_i . v_j / tau)`` over the ``T`` unlabelled rows nearest to
    ``v_i`` (Zhuang et al. 2019, eq. 1-5). The pseudo-label is the class with most
    weight and its normalised weight is the confidence. Dividing by the density
    stops labelled rows in dense regions from claiming too many rows.

    The cost is O(N M) for N rows and M labelled rows (not O(N^2)), computed in
    blocks of ``batch_size`` rows run in parallel by joblib (``n_jobs``, any
    joblib backend) or, when ``X`` is a dask array, on the dask workers. With an
    approximate ``neighbors`` backend the ``K`` highest-ranked labelled rows
    are found by a maximum-inner-product search (``v_i . v / tau - log
    rho(v_i)``), without the N x M matrix.

    With ``estimator=None`` it is transductive like :class:`LabelSpreading`
    and predicts new rows by the same vote against the training rows. Given an
    ``estimator``, it is a meta-estimator: the estimator is fitted on the
    labelled rows plus the pseudo-labelled rows, with the confidence as
    ``sample_weight`` (a Pipeline gets ``<last step>__sample_weight``, or
    ``sample_weight`` to route when metadata routing is enabled), and
    predicts new rows; with ``max_iter > 1`` and an
    estimator that has ``transform``, propagation is repeated in the fitted
    estimator's embedding.

    Read more in the :ref:`User Guide <graph>`.

    Parameters
    ----------
    estimator : estimator object, default=None
        Classifier fitted on labelled and pseudo-labelled rows. None means
        transductive propagation only.
    n_neighbors : int, default=10
        ``K``, the number of labelled rows that vote for each row. If there are
        fewer labelled rows, all of them vote (with a warning).
    n_density_neighbors : int, default=25
        ``T``, the number of nearest unlabelled rows that define the density of
        a labelled row (eq. 4); all unlabelled rows if there are fewer.
    temperature : float, default=0.07
        ``tau`` in ``exp(v_i . v_j / tau)`` (eq. 1).
    density_weighting : bool, default=True
        Divide the votes by the density (eq. 4-5). False is the paper's NoDW
        ablation (plain weighted kNN, eq. 3).
    confidence_weighting : bool, default=True
        Pass the confidence as ``sample_weight`` to ``estimator``. False is the
        paper's NoC ablation (every pseudo-labelled row weighs 1).
    max_iter : int, default=1
        Rounds of (propagate, fit ``estimator``, re-embed with its
        ``transform``). Only used with an estimator that has ``transform``.
    neighbors : {"auto", "exact", "hnsw", "ivf", "nndescent"} or estimator, \
            default="auto"
        How nearest rows are found: exact blocked search, approximate with faiss
        (``"ivf"`` is the fast choice for millions of rows; ``pip install
        sklearn-ssl[ann]``) or pynndescent, or any object with ``fit`` and
        ``kneighbors`` that returns Euclidean distances (LLP normalises the rows
        and derives the cosine similarity from them; another metric is an error).
        ``"auto"`` picks ``"ivf"`` for a dense ``X`` of 100,000 rows or more
        when faiss is installed, and ``"exact"`` otherwise (sparse ``X``, a dask
        array, fewer rows, no faiss); ``neighbors_backend_`` says which.
    batch_size : int, default=None
        Rows per block; bounds memory. None means 4096, or 32768 with the faiss
        backends (``"ivf"``, ``"hnsw"``), whose blocks hold only the ``K``
        neighbours of each row (fewer blocks: 5% faster at 200,000 rows).
    n_jobs : int, default=None
        Blocks run in parallel with joblib threads (or the active joblib
        backend, e.g. dask; under "multiprocessing", which forks, in threads
        with a warning).
    random_state : int, RandomState instance or None, default=None
        Seeds the randomised neighbour backends (``"ivf"``'s k-means,
        ``"nndescent"``); ``"hnsw"`` and ``"exact"`` draw nothing at random.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (never ``-1``).
    label_distributions_ : ndarray of shape (n_samples, n_classes)
        Normalised votes ``p_j(v)`` of each training row; one-hot for labelled rows.
    transduction_ : ndarray of shape (n_samples,)
        Label or pseudo-label of each training row.
    confidence_ : ndarray of shape (n_samples,)
        Confidence of each row's label (1 for labelled rows).
    unreached_ : ndarray of shape (n_samples,), dtype=bool
        Always False: every row has labelled neighbours. Kept for the family's API.
    class_prior_ : ndarray of shape (n_classes,)
        Class frequencies among the labelled rows.
    log_density_ : ndarray of shape (n_labeled,)
        ``log rho(v_i)`` of each labelled row, up to a constant (eq. 4).
    n_neighbors_ : int
        ``K`` actually used.
    neighbors_backend_ : str or estimator
        The ``neighbors`` of this fit: for ``"auto"`` the backend it chose
        (``"exact"`` or ``"ivf"``), otherwise ``neighbors`` as given.
    neighbors_ : object
        Fitted neighbour index over the labelled rows (the vote search).
    estimator_ : estimator
        The fitted estimator (only when ``estimator`` is given).
    n_iter_ : int
        Rounds of propagation run.
    class_share_ratio_ : float in [0, 1]
        Smallest ratio of a class's share among the labels propagated to the
        unlabelled rows (reached ones) to its share among the labelled rows
        (1: the same shares; 0: a labelled class reached no unlabelled row).
        Below 0.25, ``fit`` warns with
        :class:`~sklearn_ssl.exceptions.ClassShareDriftWarning`.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    LabelSpreading : Global propagation on a kNN graph.
    sklearn_ssl.SelfTrainingWrapper : Pseudo-labels from the classifier itself.

    References
    ----------
    Local Label Propagation for Large-Scale Semi-Supervised Learning (ICLR 2020
    submission; Zhuang et al.), equations 1-5 and Table 6.

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn_ssl.datasets import hide_labels
    >>> from sklearn_ssl.graph import LocalLabelPropagation
    >>> X, y = make_blobs(500, centers=[[5, 0], [0, 5], [-5, 0]], random_state=0)
    >>> y_ssl = hide_labels(y, n_per_class=10, random_state=0)
    >>> llp = LocalLabelPropagation().fit(X, y_ssl)
    >>> float((llp.transduction_ == y).mean())
    1.0
    >>> meta = LocalLabelPropagation(LogisticRegression()).fit(X, y_ssl)
    >>> meta.predict([[6, 0], [0, 6]]).tolist()
    [0, 1]
    """

    _parameter_constraints: dict = {
        **BaseGraphPropagation._parameter_constraints,
        "estimator": [HasMethods(["fit", "predict"]), None],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "n_density_neighbors": [Interval(Integral, 1, None, closed="left")],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "density_weighting": ["boolean"],
        "confidence_weighting": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "neighbors": [StrOptions(set(NEIGHBORS_OPTIONS)), HasMethods(["fit", "kneighbors"])],
    }

    def __init__(
        self,
        estimator=None,
        *,
        n_neighbors=10,
        n_density_neighbors=25,
        temperature=0.07,
        density_weighting=True,
        confidence_weighting=True,
        max_iter=1,
        neighbors="auto",
        batch_size=None,
        n_jobs=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.n_neighbors = n_neighbors
        self.n_density_neighbors = n_density_neighbors
        self.temperature = temperature
        self.density_weighting = density_weighting
        self.confidence_weighting = confidence_weighting
        self.max_iter = max_iter
        self.neighbors = neighbors
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- propagation --------------------------------------------------------

    def _parallel(self, tasks):
        # Results as they come: one block's scores in memory at a time.
        return block_parallel(
            self.n_jobs, type(self).__name__, prefer="threads", return_as="generator"
        )(tasks)

    def _blocks(self, n_rows):
        # With faiss, larger blocks by default (FAISS_BATCH_SIZE): a block holds only
        # K neighbours per row, and fewer blocks save a synchronisation and a
        # dispatch each (at 200,000 rows the votes took 0.456 s in blocks of 32768,
        # 0.497 in 4096).
        return _row_blocks(n_rows, self.batch_size, _is_faiss(self._fitted_neighbors()))

    def _effective_k(self, n_labeled, warn=True):
        if self.n_neighbors > n_labeled and warn:
            warnings.warn(
                f"n_neighbors={self.n_neighbors} is larger than the number of labelled "
                f"rows ({n_labeled}); every labelled row votes for every row instead.",
                UserWarning,
            )
        return min(self.n_neighbors, n_labeled)

    def _log_density_from_sims(self, sims):
        # eq. 4: rho(v_i) = sum over the T nearest unlabelled v_j of exp(v_i . v_j / tau);
        # the normaliser Z of eq. 1 is the same for every i and cancels in eq. 5.
        if sims.shape[1] == 0:
            return np.zeros(sims.shape[0])
        return logsumexp(sims / self.temperature, axis=1)

    def _log_density(self, V_unl, V_lab):
        """``log rho`` of every labelled row (zeros without density weighting)."""
        n_lab = V_lab.shape[0]
        if not self.density_weighting or not V_unl.shape[0]:
            return np.zeros(n_lab)
        T = min(self.n_density_neighbors, V_unl.shape[0])
        # Few queries (the labelled rows): "ivf" then uses fewer, larger cells.
        index = self._make_index(n_queries=n_lab).fit(V_unl)
        results = self._parallel(
            delayed(_kneighbors)(index, V_lab[b], T) for b in self._blocks(n_lab)
        )
        dist = np.concatenate([r[0] for r in results])
        return self._log_density_from_sims(1.0 - 0.5 * np.square(dist))

    def _fit_vote_index(self, V_lab, log_density):
        if self.density_weighting:
            # Scale eq. 5's ranking score by tau so that the augmented vectors
            # have unit-order norms; centring the bias does not change ranks.
            bias = -self.temperature * (log_density - log_density.mean())
            ref = _augment_reference(V_lab, bias)
        else:
            ref = V_lab
        if _is_exact(self._fitted_neighbors()):
            return NearestNeighbors(algorithm="brute").fit(ref)
        return self._make_index().fit(ref)

    def _make_index(self, n_queries=None):
        index = check_neighbors(
            self._fitted_neighbors(),
            n_jobs=self.n_jobs,
            random_state=self.random_state,
            n_queries=n_queries,
        )
        metric = getattr(index, "metric", "euclidean")
        p = getattr(index, "p", 2)
        if not (metric in ("euclidean", "l2") or (metric == "minkowski" and p in (2, None))):
            # The density (v.w = 1 - |v - w|^2 / 2) and the vote search read
            # Euclidean distances between unit rows; cosine similarity comes from them.
            raise ValueError(
                f"LocalLabelPropagation needs Euclidean neighbours (it normalises the rows "
                f"and compares them by cosine similarity itself); the neighbours object uses "
                f"metric={metric!r}. Pass one with the default Euclidean metric."
            )
        return index

    def _vote_args(self):
        return (
            self.neighbors_,
            self.labeled_y_,
            len(self.classes_),
            self.n_neighbors_,
            self.temperature,
            self.density_weighting,
        )

    def _votes(self, V):
        if V.shape[0] == 0:
            return np.zeros((0, len(self.classes_)))
        args = self._vote_args()
        parts = self._parallel(delayed(_vote_task)(V[b], *args) for b in self._blocks(V.shape[0]))
        return np.concatenate(list(parts))

    def _set_reference(self, V_lab, y_lab, log_density, warn=True):
        self.labeled_embedding_ = V_lab
        self.labeled_y_ = y_lab
        self.log_density_ = log_density
        self.n_neighbors_ = self._effective_k(V_lab.shape[0], warn)
        self.neighbors_ = self._fit_vote_index(V_lab, log_density)

    def _propagate_local(self, Z, labeled, y_encoded, warn=True):
        """Scores of every row (one-hot for labelled rows) in the embedding ``Z``."""
        V = _unit_rows(Z, self._row_dtype())
        V_lab = V[labeled]
        unlabeled = ~labeled
        V_unl = V[unlabeled]  # one copy for the density and the votes
        del V
        log_density = self._log_density(V_unl, V_lab)
        self._set_reference(V_lab, y_encoded[labeled], log_density, warn)
        F = np.zeros((Z.shape[0], len(self.classes_)))
        F[labeled, y_encoded[labeled]] = 1.0
        F[unlabeled] = self._votes(V_unl)
        return F

    # -- fit ----------------------------------------------------------------

    def _check_estimator(self):
        if (
            self.estimator is not None
            and self.confidence_weighting
            and not accepts_sample_weight(self.estimator)
        ):
            raise ValueError(
                f"{weight_taker_name(self.estimator)}.fit does not accept sample_weight, "
                "which LocalLabelPropagation uses to weight pseudo-labels by their "
                "confidence. Pass confidence_weighting=False or an estimator that accepts "
                "sample_weight."
            )

    def _fit_estimator(self, X, y_encoded, labeled, F):
        pseudo = np.argmax(F, axis=1)
        y_fit = np.where(labeled, y_encoded, pseudo)
        fit_params = {}
        if self.confidence_weighting:
            confidence = np.where(labeled, 1.0, F.max(axis=1) / F.sum(axis=1))
            fit_params = sample_weight_params(self.estimator, confidence)
        self.estimator_ = clone(self.estimator).fit(X, self.classes_[y_fit], **fit_params)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Propagate the labels of ``y`` and, given an estimator, fit it.

        Parameters
        ----------
        X : {array-like, sparse matrix} or dask array of shape (n_samples, n_features)
            Training data (sparse with ``neighbors="auto"`` or ``"exact"``). Rows
            are compared by cosine similarity, so none may be all zeros.
        y : array-like of shape (n_samples,)
            Labels, ``-1`` for unlabelled rows.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        self._check_estimator()
        if _is_dask_collection(X):
            return self._fit_dask(X, y)
        X, _, labeled, y_encoded = self._validate_semi_supervised(
            X, y, accept_sparse=self._accept_sparse(X, self.neighbors)
        )
        self.neighbors_backend_ = resolve_neighbors(self.neighbors, X, "local")
        Z = X
        for n_iter in range(1, self.max_iter + 1):
            F = self._propagate_local(Z, labeled, y_encoded, warn=n_iter == 1)
            if self.estimator is None:
                break
            self._fit_estimator(X, y_encoded, labeled, F)
            if n_iter == self.max_iter or not hasattr(self.estimator_, "transform"):
                break
            Z = self.estimator_.transform(X)
            if sparse.issparse(Z):
                # The faiss backends take dense rows; an embedding is narrow (often
                # one column per class), so a sparse one is made dense for them.
                Z = Z.tocsr() if self._sparse_X_ok(self._fitted_neighbors()) else Z.toarray()
            else:
                Z = np.asarray(Z, dtype=np.float64)
            if Z.ndim == 1:  # e.g. a binary decision function: one column
                Z = Z.reshape(-1, 1)
        self.n_iter_ = n_iter
        self._finish(F, y_encoded, labeled)
        return self

    def _finish(self, F, y_encoded, labeled):
        self._set_label_distributions(F, y_encoded, labeled)
        self.confidence_ = self.label_distributions_.max(axis=1)

    def _fit_dask(self, X, y):
        dask = _import_dask()
        import dask.array as da

        backend = resolve_neighbors(self.neighbors, X, "local")  # "auto": "exact" on dask
        if self.estimator is not None or not _is_exact(backend):
            raise ValueError(
                "With a dask array X, LocalLabelPropagation supports estimator=None and "
                "neighbors='exact' (or 'auto', which is exact there). Compute X to a NumPy "
                "array for the other options."
            )
        if X.ndim != 2:
            raise ValueError(f"Expected a 2D dask array, got {X.ndim} dimension(s).")
        if np.isnan(X.shape[0]):
            raise ValueError(
                "X is a dask array whose chunk sizes are unknown (after boolean indexing, "
                "for example). Call X = X.compute_chunk_sizes() before fit."
            )
        self.neighbors_backend_ = backend
        y, labeled, self.classes_, y_encoded = check_semi_supervised_y(y)
        check_labeled_targets(y[labeled])
        if y.shape[0] != X.shape[0]:
            raise ValueError(
                f"X has {X.shape[0]} rows but y has {y.shape[0]} entries; give one label "
                "(or -1) per row."
            )
        self.n_features_in_ = X.shape[1]
        X = X.astype(np.float64).rechunk({1: -1})
        # A zero row is one whose largest entry is 0 (squares would underflow first).
        all_finite, n_zero = dask.compute(da.isfinite(X).all(), (da.abs(X).max(axis=1) == 0).sum())
        if not all_finite:
            raise ValueError("Input X contains NaN or infinity.")
        if n_zero:
            raise _zero_rows_error(int(n_zero))
        # Whole rows in each block: the NumPy path's normalisation, at any scale.
        V = X.map_blocks(_unit_rows, dtype=np.float64)
        V_lab = V[np.flatnonzero(labeled)].compute()
        unlabeled = ~labeled
        bounds = np.cumsum((0,) + V.chunks[0])
        slices = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
        blocks = V.to_delayed().ravel()

        log_density = np.zeros(V_lab.shape[0])
        if self.density_weighting and unlabeled.any():
            T = min(self.n_density_neighbors, int(unlabeled.sum()))
            parts = dask.compute(
                *[
                    dask.delayed(_density_task)(blk, unlabeled[s], V_lab, T)
                    for blk, s in zip(blocks, slices)
                ]
            )
            best = None
            for part in parts:
                best = _merge_top(best, part, T)
            log_density = self._log_density_from_sims(best)
        self._set_reference(V_lab, y_encoded[labeled], log_density)

        args = self._vote_args()
        votes = dask.compute(
            *[dask.delayed(_vote_task)(blk[unlabeled[s]], *args) for blk, s in zip(blocks, slices)]
        )
        F = np.zeros((X.shape[0], len(self.classes_)))
        F[labeled, y_encoded[labeled]] = 1.0
        F[unlabeled] = np.concatenate(votes)
        self.n_iter_ = 1
        self._finish(F, y_encoded, labeled)
        return self

    # -- predict ------------------------------------------------------------

    def _row_dtype(self):
        # faiss searches float32 rows: unit rows made float32 once (from norms
        # computed in float64) halve the copies and the memory they pass through.
        return np.float32 if _is_faiss(self._fitted_neighbors()) else np.float64

    def _sparse_X_ok(self, neighbors):
        # The exact search takes sparse rows ("auto" picks it for sparse X); the
        # augmented vectors stay sparse.
        return isinstance(neighbors, str) and neighbors in ("exact", "auto")

    def _checked_X(self, X):
        """``X`` at predict time, checked as fit checked it."""
        return validate_data(
            self, X, reset=False, accept_sparse=self._accept_sparse(X, self._fitted_neighbors())
        )

    def _predict_scores(self, X):
        return self._votes(_unit_rows(self._checked_X(X), self._row_dtype()))

    def _estimator_has(attr):
        def check(self):
            if self.estimator is None:
                return True
            return hasattr(self.estimator, attr)

        return check

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities of new rows.

        From ``estimator_`` when an estimator is given, otherwise from the
        density-weighted vote of the labelled training rows (eq. 5).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New rows.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Class probabilities.
        """
        check_is_fitted(self)
        if self.estimator is not None:
            # The checks fit made (feature names and count): the estimator was fitted
            # on the validated array, so it cannot tell reordered columns apart.
            return self.estimator_.predict_proba(self._checked_X(X))
        return super().predict_proba(X)

    def predict(self, X):
        """Predict the class of new rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New rows.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted classes.
        """
        check_is_fitted(self)
        if self.estimator is not None:
            # The checks fit made (feature names and count): the estimator was fitted
            # on the validated array, so it cannot tell reordered columns apart.
            return self.estimator_.predict(self._checked_X(X))
        return super().predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self._sparse_X_ok(self.neighbors)
        if self.estimator is not None:
            from sklearn.utils import get_tags

            inner = get_tags(self.estimator)
            tags.input_tags.sparse = tags.input_tags.sparse and inner.input_tags.sparse
            tags.input_tags.allow_nan = False
            tags.classifier_tags = inner.classifier_tags
        return tags
