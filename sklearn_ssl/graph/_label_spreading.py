"""Label spreading (Zhou et al., 2004) on a sparse kNN graph."""

from numbers import Real

import numpy as np
from scipy import sparse
from sklearn.utils._param_validation import Interval

from ._base import BaseKNNPropagation, _row_normalize

# Below this row mass LabelSpreading reruns with per-row exponents (subnormal
# numbers start at 2.2e-308 and keep fewer digits).
_TINY_MASS = 1e-250


class LabelSpreading(BaseKNNPropagation):
    """Label spreading with soft clamping on a sparse kNN graph.

    Iterates ``F <- alpha * S F + (1 - alpha) * Y`` with the symmetrically
    normalised affinity ``S = D^-1/2 W D^-1/2`` of a symmetric kNN graph
    (Zhou et al., 2004), so labelled rows may change label when the graph
    disagrees with them. The graph is sparse (``n_neighbors`` per row), found
    exactly or with an approximate backend for large data; rows that no label
    reaches get the class prior instead of NaN (``unreached_``); new rows are
    predicted from their neighbours in the training set.

    Read more in the :ref:`User Guide <graph>`.

    Parameters
    ----------
    kernel : {"knn", "rbf", "precomputed"}, default="knn"
        Edge weights of the kNN graph: ``"knn"`` gives every edge weight 1,
        ``"rbf"`` gives ``exp(-gamma * d^2)``; ``"precomputed"`` means ``X``
        is a square (sparse) affinity matrix and new rows are given as their
        affinities to the training rows.
    gamma : float, default=None
        Width of the ``"rbf"`` weights; None uses ``1 / mean(d^2)`` over the
        kNN distances (stored in ``gamma_``).
    n_neighbors : int, default=10
        Neighbours per row in the graph, and for predicting new rows.
    neighbors : {"auto", "exact", "hnsw", "ivf", "nndescent"} or estimator, \
            default="auto"
        How neighbours are found: exact (scikit-learn ``NearestNeighbors``),
        approximate with faiss (``"hnsw"``, ``"ivf"``; ``pip install
        sklearn-ssl[ann]``) or pynndescent (``"nndescent"``), or any unfitted
        object with ``fit`` and ``kneighbors`` (it is cloned). ``"auto"`` picks
        ``"ivf"`` for a dense ``X`` of 50,000 rows or more when faiss is
        installed, and ``"exact"`` otherwise (sparse ``X``, fewer rows, no
        faiss); ``neighbors_backend_`` says which.
    alpha : float, default=0.2
        Weight of the neighbours against the initial labels, in ``(0, 1)``.
    max_iter : int, default=30
        Maximum number of spreading steps.
    tol : float, default=1e-3
        Stop when no entry of the label distributions moves more than ``tol``.
    batch_size : int, default=None
        Rows per neighbour query block (bounds memory); None means 4096, or
        32768 with the faiss backends (``"ivf"``, ``"hnsw"``), whose blocks hold
        only the neighbours of each row.
    n_jobs : int, default=None
        Query blocks run in parallel with joblib (the active joblib backend,
        dask included; under "multiprocessing", which forks, in threads with
        a warning).
    random_state : int, RandomState instance or None, default=None
        Seeds the randomised neighbour backends (``"ivf"``'s k-means,
        ``"nndescent"``); ``"hnsw"`` and ``"exact"`` draw nothing at random.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (never ``-1``).
    label_distributions_ : ndarray of shape (n_samples, n_classes)
        Class distribution of each training row.
    transduction_ : ndarray of shape (n_samples,)
        Label given to each training row.
    unreached_ : ndarray of shape (n_samples,), dtype=bool
        Rows no labelled row reached (they got ``class_prior_``).
    class_prior_ : ndarray of shape (n_classes,)
        Class frequencies among the labelled rows.
    n_iter_ : int
        Number of spreading steps run. When the spreading underflowed and was
        rerun with per-row exponents (see the User Guide), the steps of that
        rerun only.
    gamma_ : float
        Width used for ``"rbf"`` weights.
    neighbors_backend_ : str or estimator
        The ``neighbors`` of this fit: for ``"auto"`` the backend it chose
        (``"exact"`` or ``"ivf"``), otherwise ``neighbors`` as given. Not set
        with ``kernel="precomputed"``.
    neighbors_ : object
        Fitted neighbour index over the training rows.
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
    LabelPropagation : Hard clamping with the random-walk operator.
    LocalLabelPropagation : Density-weighted local votes, O(N M), for large N.
    sklearn.semi_supervised.LabelSpreading : scikit-learn's version.

    References
    ----------
    Zhou, D., Bousquet, O., Lal, T. N., Weston, J. and Schoelkopf, B. (2004).
    Learning with local and global consistency. NeurIPS 16.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from sklearn_ssl.datasets import hide_labels
    >>> from sklearn_ssl.graph import LabelSpreading
    >>> X, y = make_moons(200, noise=0.05, random_state=0)
    >>> y_ssl = hide_labels(y, n_per_class=3, random_state=0)
    >>> model = LabelSpreading(n_neighbors=7).fit(X, y_ssl)
    >>> float((model.transduction_ == y).mean())
    1.0
    """

    _parameter_constraints: dict = {
        **BaseKNNPropagation._parameter_constraints,
        "alpha": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(
        self,
        *,
        kernel="knn",
        gamma=None,
        n_neighbors=10,
        neighbors="auto",
        alpha=0.2,
        max_iter=30,
        tol=1e-3,
        batch_size=None,
        n_jobs=None,
        random_state=None,
    ):
        super().__init__(
            kernel=kernel,
            gamma=gamma,
            n_neighbors=n_neighbors,
            neighbors=neighbors,
            max_iter=max_iter,
            tol=tol,
            batch_size=batch_size,
            n_jobs=n_jobs,
            random_state=random_state,
        )
        self.alpha = alpha

    def _build_graph(self, W):
        # S = D^-1/2 W D^-1/2 (Zhou et al., 2004, step 2).
        degree = np.asarray(W.sum(axis=1)).ravel()
        inv_sqrt = np.divide(1.0, np.sqrt(degree), out=np.zeros_like(degree), where=degree > 0)
        D = sparse.diags(inv_sqrt)
        return (D @ W @ D).tocsr()

    def _propagate(self, operator, F, Y):
        # F <- alpha S F + (1 - alpha) Y (Zhou et al., 2004, step 3).
        return self.alpha * (operator @ F) + (1.0 - self.alpha) * Y

    def _after_propagation(self, operator, F, Y, delta):
        # Each hop multiplies the mass by about alpha / n_neighbors, so rows a few
        # hundred hops from any label underflow to 0 (or to subnormal numbers with
        # few digits) although the graph connects them. Their frontier shows as rows
        # of positive but tiny mass (a hop cannot jump from 1e-250 to 0; rows that
        # max_iter or a label-free component leave at 0 border rows of ordinary
        # mass). Then run again with a per-row exponent.
        mass = F.sum(axis=1)
        if not np.any((mass > 0) & (mass <= _TINY_MASS)):
            return F, delta
        labeled = Y.any(axis=1)
        start = (Y.copy(), np.where(labeled, 0.0, -np.inf))
        (G, _), delta = self._iterate(
            lambda state: self._scaled_step(operator, state, Y, labeled),
            start,
            lambda state: _row_normalize(state[0]),
        )
        return G, delta

    def _scaled_step(self, S, state, Y, labeled):
        """One step of eq. 3 on ``F = 2^e G`` (rows of ``G`` scaled to a maximum of 1).

        Row ``i`` of ``S F`` is ``2^m_i sum_j S_ij 2^(e_j - m_i) G_j`` with ``m_i`` the
        largest exponent among its neighbours: every term is at most 1, so nothing
        underflows that matters to the row (terms below 2^-1074 of its largest are lost).
        """
        G, e = state
        counts = np.diff(S.indptr)
        e_neighbors = e[S.indices]
        m = np.full(S.shape[0], -np.inf)
        rows = np.flatnonzero(counts)
        if rows.size:
            m[rows] = np.maximum.reduceat(e_neighbors, S.indptr[rows])
        m_repeated = np.repeat(m, counts)
        with np.errstate(invalid="ignore"):
            scale = np.exp2(e_neighbors - m_repeated)
        scale[~np.isfinite(m_repeated)] = 0.0  # no reached neighbour
        H = self.alpha * (sparse.csr_matrix((S.data * scale, S.indices, S.indptr), S.shape) @ G)
        exponent = m.copy()
        # Labelled rows add (1 - alpha) Y_i, at exponent 0.
        lift = np.exp2(np.minimum(m[labeled], 1000.0))[:, None]
        H[labeled] = lift * H[labeled] + (1.0 - self.alpha) * Y[labeled]
        exponent[labeled] = 0.0
        top = H.max(axis=1)
        reached = top > 0
        G_new = np.zeros_like(H)
        G_new[reached] = H[reached] / top[reached, None]
        e_new = np.full(S.shape[0], -np.inf)
        e_new[reached] = exponent[reached] + np.log2(top[reached])
        return G_new, e_new
