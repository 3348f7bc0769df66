"""Base classes of the graph family.

:class:`BaseGraphPropagation` owns what every propagation method shares: the
class-prior fallback for rows no label reached (``unreached_``), the fitted
attributes ``transduction_`` and ``label_distributions_``, and ``predict``.
:class:`BaseKNNPropagation` adds the iterative solver on a sparse kNN graph;
LabelPropagation and LabelSpreading each write only its two hooks,
``_build_graph`` (the propagation operator) and ``_propagate`` (one step).
"""

import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ..base import BaseSemiSupervisedClassifier
from ..exceptions import UnreachedRowsWarning
from ..utils._class_shares import check_class_shares
from ..utils._labels import check_labeled_targets
from ._graph import (
    NEIGHBORS_OPTIONS,
    check_n_neighbors,
    check_neighbors,
    default_gamma,
    gaussian_weights,
    kneighbors_blocked,
    knn_affinity,
    resolve_neighbors,
)


def _class_prior(y_encoded, labeled, n_classes):
    counts = np.bincount(y_encoded[labeled], minlength=n_classes).astype(np.float64)
    return counts / counts.sum()


def _check_affinities(X):
    """A precomputed affinity matrix as CSR float64; negative entries are an error."""
    A = sparse.csr_matrix(X, dtype=np.float64)
    if A.nnz and A.data.min() < 0:
        raise ValueError(
            "With kernel='precomputed', X must hold non-negative affinities; "
            "it has negative entries."
        )
    return A


def _row_normalize(F):
    mass = F.sum(axis=1, keepdims=True)
    return F / np.where(mass > 0, mass, 1.0)


class BaseGraphPropagation(BaseSemiSupervisedClassifier, metaclass=ABCMeta):
    """Shared behaviour of graph-based propagation estimators.

    Subclasses fill a non-negative score matrix ``F`` (one row per sample, one
    column per class) and call :meth:`_set_label_distributions`; rows of ``F``
    with no mass get the class prior of the labelled rows and are flagged in
    ``unreached_`` instead of becoming NaN.
    """

    _parameter_constraints: dict = {
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def _validate_semi_supervised(self, X, y, **kwargs):
        X, y, labeled, y_encoded = super()._validate_semi_supervised(X, y, **kwargs)
        check_labeled_targets(y[labeled])
        return X, y, labeled, y_encoded

    def _sparse_X_ok(self, neighbors):
        """Whether rows may be a sparse matrix with this ``neighbors``: the exact search
        (which "auto" picks for sparse X) and a given neighbours object take them;
        faiss and pynndescent need dense rows."""
        return not isinstance(neighbors, str) or neighbors in ("exact", "auto")

    def _fitted_neighbors(self):
        """The ``neighbors`` the fitted index was built with ("auto" resolved)."""
        return getattr(self, "neighbors_backend_", self.neighbors)

    def _accept_sparse(self, X, neighbors):
        """``accept_sparse`` for validate_data, or a clear error for sparse X.

        ``neighbors``: the parameter in fit, :meth:`_fitted_neighbors` afterwards.
        """
        if getattr(self, "kernel", None) == "precomputed" or self._sparse_X_ok(neighbors):
            return "csr"
        if sparse.issparse(X):
            if isinstance(self.neighbors, str) and self.neighbors == "auto":
                why = (
                    f"neighbors='auto' chose {neighbors!r} in fit (dense training rows), "
                    "which searches dense rows"
                )
            elif isinstance(neighbors, str):
                why = f"neighbors={neighbors!r} searches dense rows"
            else:
                why = f"{type(self).__name__} takes sparse rows only with neighbors='exact'"
            raise TypeError(
                f"{why}, but X is a sparse matrix. Use neighbors='exact', which takes "
                "sparse rows (e.g. TF-IDF), or pass X.toarray()."
            )
        return False

    def _set_label_distributions(self, F, y_encoded, labeled, isolated=None):
        n_classes = len(self.classes_)
        self.class_prior_ = _class_prior(y_encoded, labeled, n_classes)
        F, unreached = self._normalize_scores(F)
        n_unreached = int(unreached.sum())
        if n_unreached:
            advice = "Increase n_neighbors (or max_iter) to connect them."
            n_isolated = 0 if isolated is None else int((isolated & unreached).sum())
            if n_isolated:
                # More neighbours cannot help rows whose weights vanish, nor rows
                # cut off from the labels by vanishing weights elsewhere.
                advice = (
                    f"{n_isolated} of them have neighbours but every edge weight "
                    f"exp(-gamma_ d^2) underflows to 0 (gamma_={self.gamma_:.3g}); such "
                    "weights may cut the others off too. Pass a smaller gamma or use "
                    f"kernel='knn', or: {advice[0].lower()}{advice[1:]}"
                )
            warnings.warn(
                f"{n_unreached} of {F.shape[0]} rows were not reached by any labelled row "
                "(their graph component has no label, or they are further than max_iter "
                "steps from one). They get the class prior of the labelled rows and are "
                f"flagged in unreached_. {advice}",
                UnreachedRowsWarning,
            )
        self.label_distributions_ = F
        self.unreached_ = unreached
        label = np.argmax(F, axis=1)
        self.transduction_ = self.classes_[label]
        self.class_share_ratio_ = check_class_shares(
            self,
            np.bincount(y_encoded[labeled], minlength=n_classes),
            np.bincount(label[~labeled & ~unreached], minlength=n_classes),
            what="the labels propagated to the unlabelled rows",
        )

    def _normalize_scores(self, F):
        F = np.asarray(F, dtype=np.float64)
        mass = F.sum(axis=1)
        unreached = ~(mass > 0) | ~np.isfinite(mass)
        F = F / np.where(unreached, 1.0, mass)[:, None]
        F[unreached] = self.class_prior_
        return F, unreached

    @abstractmethod
    def _predict_scores(self, X):
        """Non-negative class scores for new rows (rows of zeros if unreached)."""

    def predict_proba(self, X):
        """Class probabilities of new rows, from their neighbours in the training set.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New rows (an affinity to the training rows with ``kernel="precomputed"``).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows with no neighbour of positive weight get the class prior.
        """
        check_is_fitted(self)
        F, _ = self._normalize_scores(self._predict_scores(X))
        return F

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
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class BaseKNNPropagation(BaseGraphPropagation):
    """Iterative propagation on a sparse symmetric kNN graph.

    Subclasses define ``_build_graph(W)``, which turns the symmetric affinity
    ``W`` into the operator applied at each step, and ``_propagate(operator, F,
    Y)``, one step of the iteration.
    """

    _parameter_constraints: dict = {
        **BaseGraphPropagation._parameter_constraints,
        "kernel": [StrOptions({"knn", "rbf", "precomputed"})],
        "gamma": [Interval(Real, 0, None, closed="neither"), None],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "neighbors": [StrOptions(set(NEIGHBORS_OPTIONS)), HasMethods(["fit", "kneighbors"])],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
    }

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
        self.kernel = kernel
        self.gamma = gamma
        self.n_neighbors = n_neighbors
        self.neighbors = neighbors
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self.n_jobs = n_jobs
        self.random_state = random_state

    @abstractmethod
    def _build_graph(self, W):
        """Return the propagation operator built from the symmetric affinity ``W``."""

    @abstractmethod
    def _propagate(self, operator, F, Y):
        """Return ``F`` after one step (``Y``: one-hot labels, zero rows if unlabelled)."""

    def _edge_weights(self, distances):
        if self.kernel == "knn":
            return np.ones_like(distances)
        return gaussian_weights(distances, self.gamma_)

    def _affinity(self, X):
        """Symmetric sparse affinity of the training rows."""
        n_samples = X.shape[0]
        if self.kernel == "precomputed":
            # No neighbour search and no kernel width here: a refit must not keep
            # those of an earlier fit on features.
            for attr in ("neighbors_", "neighbors_backend_", "gamma_"):
                vars(self).pop(attr, None)
            if X.shape[0] != X.shape[1]:
                raise ValueError(
                    "With kernel='precomputed', X must be a square (n_samples, n_samples) "
                    f"affinity matrix, got shape {X.shape}."
                )
            A = _check_affinities(X)
            A = ((A + A.T) * 0.5).tocsr()
            # No self-loops (W_ii = 0, as Zhou et al. and the kNN graph): a dense
            # kernel's diagonal of ones would hold each row's own labels back.
            A.setdiag(0.0)
            A.eliminate_zeros()
            return A
        check_n_neighbors(self.n_neighbors, n_samples)
        self.neighbors_backend_ = resolve_neighbors(self.neighbors, X, "knn_graph")
        self.neighbors_ = check_neighbors(
            self.neighbors_backend_, n_jobs=self.n_jobs, random_state=self.random_state
        ).fit(X)
        dist, ind = kneighbors_blocked(
            self.neighbors_,
            X,
            self.n_neighbors,
            batch_size=self.batch_size,
            n_jobs=self.n_jobs,
            exclude_self=True,
            estimator_name=type(self).__name__,
        )
        self.gamma_ = self.gamma if self.gamma is not None else default_gamma(dist)
        return knn_affinity(dist, ind, n_samples, self._edge_weights(dist))

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Propagate the labels of ``y`` over the kNN graph of ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (sparse with ``neighbors="auto"``, ``"exact"`` or a
            neighbours object that takes it); with ``kernel="precomputed"`` a
            (sparse) square affinity matrix.
        y : array-like of shape (n_samples,)
            Labels, ``-1`` for unlabelled rows.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X, _, labeled, y_encoded = self._validate_semi_supervised(
            X, y, accept_sparse=self._accept_sparse(X, self.neighbors)
        )
        n_classes = len(self.classes_)
        W = self._affinity(X)
        operator = self._build_graph(W)

        Y = np.zeros((X.shape[0], n_classes))
        Y[labeled, y_encoded[labeled]] = 1.0
        step = lambda F: self._propagate(operator, F, Y)  # noqa: E731
        F, delta = self._iterate(step, Y.copy(), _row_normalize)
        F, delta = self._after_propagation(operator, F, Y, delta)
        if delta > self.tol:
            warnings.warn(
                f"{type(self).__name__} did not converge in max_iter={self.max_iter} "
                f"iterations (last change {delta:.2g} > tol={self.tol}). Increase max_iter.",
                ConvergenceWarning,
            )
        isolated = None
        if self.kernel == "rbf":  # rows whose every Gaussian weight underflowed
            isolated = np.asarray(W.sum(axis=1)).ravel() == 0
        self._set_label_distributions(F, y_encoded, labeled, isolated)
        return self

    def _iterate(self, step, state, distributions):
        """Apply ``step`` until the class distributions move by less than ``tol``.

        Returns the last state and the last change (``inf`` without iterations).
        """
        # Compare normalised distributions: mass far from the labels is tiny
        # (alpha^hops), but a row reached for the first time moves by ~1, so the
        # loop runs until every reachable row is reached.
        P = distributions(state)
        delta = np.inf
        self.n_iter_ = 0
        for _ in range(self.max_iter):
            state = step(state)
            P_new = distributions(state)
            delta = np.abs(P_new - P).max() if P.size else 0.0
            P = P_new
            self.n_iter_ += 1
            if delta <= self.tol:
                break
        return state, delta

    def _after_propagation(self, operator, F, Y, delta):
        """Hook: the scores and last change to keep (LabelSpreading rescues underflow)."""
        return F, delta

    def _predict_scores(self, X):
        precomputed = self.kernel == "precomputed"
        X = validate_data(
            self, X, reset=False, accept_sparse=self._accept_sparse(X, self._fitted_neighbors())
        )
        if precomputed:
            # Rows of X are affinities to the training rows.
            return np.asarray(_check_affinities(X) @ self.label_distributions_)
        dist, ind = kneighbors_blocked(
            self.neighbors_,
            X,
            self.n_neighbors,
            batch_size=self.batch_size,
            n_jobs=self.n_jobs,
            estimator_name=type(self).__name__,
        )
        if self.kernel == "rbf":
            # Shift by each row's nearest distance: the ratios are unchanged and
            # far rows do not underflow to all-zero weights.
            sq = np.square(dist)
            weights = np.exp(-self.gamma_ * (sq - sq.min(axis=1, keepdims=True)))
        else:
            weights = np.ones_like(dist)
        return np.einsum("nk,nkc->nc", weights, self.label_distributions_[ind])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self.kernel == "precomputed" or self._sparse_X_ok(self.neighbors)
        tags.input_tags.pairwise = self.kernel == "precomputed"
        return tags
