"""Label propagation (Zhu and Ghahramani, 2002) on a sparse kNN graph."""

import numpy as np
from scipy import sparse

from ._base import BaseKNNPropagation


class LabelPropagation(BaseKNNPropagation):
    """Label propagation with clamped labels on a sparse kNN graph.

    Labels flow along the edges of a symmetric kNN graph through the random-walk
    operator ``P = D^-1 W``; after each step the labelled rows are reset to
    their labels (clamping), which converges to the harmonic solution of Zhu
    and Ghahramani. Unlike scikit-learn's ``LabelPropagation`` the graph is
    always sparse (``n_neighbors`` per row, exact or approximate neighbours),
    rows that no label reaches get the class prior instead of NaN, and new rows
    are predicted from their neighbours in the training set.

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
    max_iter : int, default=1000
        Maximum number of propagation steps.
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
        Number of propagation steps run.
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
    LabelSpreading : Soft clamping with ``alpha`` and symmetric normalisation.
    LocalLabelPropagation : Density-weighted local votes, O(N M), for large N.
    sklearn.semi_supervised.LabelPropagation : scikit-learn's dense version.

    References
    ----------
    Zhu, X. and Ghahramani, Z. (2002). Learning from labeled and unlabeled data
    with label propagation. Technical report CMU-CALD-02-107.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from sklearn_ssl.datasets import hide_labels
    >>> from sklearn_ssl.graph import LabelPropagation
    >>> X, y = make_moons(200, noise=0.05, random_state=0)
    >>> y_ssl = hide_labels(y, n_per_class=3, random_state=0)
    >>> model = LabelPropagation(n_neighbors=7).fit(X, y_ssl)
    >>> float((model.transduction_ == y).mean())
    1.0
    """

    def __init__(
        self,
        *,
        kernel="knn",
        gamma=None,
        n_neighbors=10,
        neighbors="auto",
        max_iter=1000,
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

    def _build_graph(self, W):
        # Random-walk operator P = D^-1 W (Zhu and Ghahramani, eq. of the
        # propagation step Y <- P Y); isolated rows keep a zero row.
        degree = np.asarray(W.sum(axis=1)).ravel()
        inv = np.divide(1.0, degree, out=np.zeros_like(degree), where=degree > 0)
        return sparse.diags(inv) @ W

    def _propagate(self, operator, F, Y):
        # One step, then clamp the labelled rows back to their labels.
        labeled = Y.any(axis=1)
        F_new = operator @ F
        F_new[labeled] = Y[labeled]
        return F_new
