"""Logistic regression with entropy regularisation on the unlabelled rows.

Grandvalet & Bengio's entropy minimisation (2004): the supervised loss is
complemented by ``lambda_`` times the entropy of the predicted class
probabilities on unlabelled rows, ``L = L_supervised + lambda * H(p(y|x_u))``,
which pushes the decision boundary away from dense regions of unlabelled data.
"""

import numbers
import warnings

import numpy as np
import scipy.optimize
from scipy.special import expit, log_softmax
from sklearn.base import _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ..base import BaseSemiSupervisedClassifier
from ..utils._class_shares import check_class_shares
from ..utils._labels import check_labeled_targets
from ._lbfgs import (
    _FTOL,
    _LBFGS_MEMORY,
    _LBFGS_MEMORY_BYTES,
    _MAXLS,
    _lbfgs,
    _LbfgsMemory,
    _pairs_oldest_first,
)

_TINY = 1e-12


def _binary_terms(z, y):
    """Pointwise log-loss and its derivative for logits ``z``, targets in {0, 1}."""
    loss = np.logaddexp(0.0, z) - y * z
    return loss, expit(z) - y


def _binary_entropy(z):
    """Entropy of the sigmoid of ``z``, its derivative with respect to ``z``, and ``p``.

    ``H = softplus(z) - p * z`` with ``p = sigmoid(z)``; ``dH/dz = -z p (1 - p)``.
    """
    p = expit(z)
    return np.logaddexp(0.0, z) - p * z, -z * p * (1.0 - p), p


def _multinomial_terms(Z, y):
    """Pointwise cross-entropy and its gradient with respect to the logits ``Z``."""
    log_p = log_softmax(Z, axis=1)
    rows = np.arange(Z.shape[0])
    grad = np.exp(log_p)
    grad[rows, y] -= 1.0
    return -log_p[rows, y], grad


def _multinomial_entropy(Z):
    """Entropy of the softmax of ``Z``, its gradient with respect to ``Z``, and ``p``.

    ``H = -sum_k p_k log p_k``; ``dH/dz_k = -p_k (log p_k + H)``.
    """
    log_p = log_softmax(Z, axis=1)
    p = np.exp(log_p)
    entropy = -np.einsum("ij,ij->i", p, log_p)
    log_p += entropy[:, None]
    log_p *= -p
    return entropy, log_p, p


class _Objective:
    """The normalised objective and its gradient, for L-BFGS.

    With ``s_i`` the labelled weights (sample weight times class weight),
    ``S_L = sum s_i``, ``u_j`` the unlabelled sample weights, ``S_U = sum u_j``,
    ``p_bar = 1/S_U sum_j u_j p_j`` and ``pi`` the labelled class frequencies::

        F(w) = 1/S_L sum_i s_i CE_i + ||W||^2 / (2 C S_L)
               + lambda_ * (1/S_U sum_j u_j H_j + class_balance * KL(pi || p_bar))

    ``C * S_L * F`` is scikit-learn's ``0.5 ||W||^2 + C sum_i s_i CE_i`` plus the
    unlabelled terms, so ``lambda_ = 0`` has LogisticRegression's minimiser.
    Matrix products run in the dtype of ``X`` (float32 stays float32); the
    non-linear parts (log-softmax, entropy) run in float64. When ``lab_rows`` gives
    the positions of the labelled rows in ``X_unl`` (with zero unlabelled weight
    there), an evaluation with ``lambda_ > 0`` reads ``X_unl`` once forwards and once
    backwards and never touches ``X_lab``; ``X_lab`` serves the supervised solve.
    """

    def __init__(
        self,
        X_lab,
        y_lab,
        w_lab,
        X_unl,
        w_unl,
        *,
        n_coef_rows,
        C,
        fit_intercept,
        w_prior,
        class_balance,
        lab_rows=None,
    ):
        self.X_lab, self.y_lab, self.X_unl = X_lab, y_lab, X_unl
        self.lab_rows = lab_rows
        self.n_coef_rows = n_coef_rows
        self.n_features = X_lab.shape[1]
        self.fit_intercept = fit_intercept
        self.dtype = X_lab.dtype
        sum_lab = w_lab.sum()
        self.a_lab = w_lab / sum_lab
        self.a_unl = None if w_unl is None or w_unl.sum() <= 0 else w_unl / w_unl.sum()
        self.alpha = 1.0 / (C * sum_lab)
        self.binary = n_coef_rows == 1
        self.class_balance = class_balance
        n_classes = 2 if self.binary else n_coef_rows
        counts = np.bincount(y_lab.astype(np.int64), weights=w_prior, minlength=n_classes)
        # Classes with no labelled weight keep a small prior so that the KL stays finite.
        self.prior = np.maximum(counts / counts.sum(), _TINY)
        self.lambda_ = 0.0

    @property
    def n_params(self):
        return self.n_coef_rows * (self.n_features + int(self.fit_intercept))

    def unpack(self, params):
        k, d = self.n_coef_rows, self.n_features
        coef = params[: k * d].reshape(k, d)
        intercept = params[k * d :] if self.fit_intercept else np.zeros(k)
        return coef, intercept

    def _logits(self, X, coef, intercept):
        Z = safe_sparse_dot(X, coef.astype(self.dtype, copy=False).T, dense_output=True)
        Z = Z.astype(np.float64, copy=False) + intercept
        return Z[:, 0] if self.binary else Z

    def _backprop(self, X, G):
        """Gradient of ``sum(G * Z)`` with respect to coef (and intercept)."""
        G2 = G[:, None] if self.binary else G
        g_coef = safe_sparse_dot(G2.T.astype(self.dtype, copy=False), X, dense_output=True)
        return np.asarray(g_coef, dtype=np.float64), G2.sum(axis=0)

    def _unlabeled_terms(self, Z):
        """Mean entropy plus ``class_balance * KL(prior || mean prediction)``, and gradient."""
        a = self.a_unl
        # Seed 004: L = L_supervised + lambda * H(p(y | x_unlabelled)).
        entropy_fn = _binary_entropy if self.binary else _multinomial_entropy
        entropy, G, p = entropy_fn(Z)
        value = a @ entropy
        G *= a[:, None] if G.ndim == 2 else a
        if self.class_balance > 0:
            # KL(prior || p_bar), p_bar the weighted mean prediction: the class-balance
            # constraint of transductive SVMs, as a penalty. It stops the entropy
            # term from giving all unlabelled rows to one class.
            if self.binary:
                p_bar = np.clip(a @ p, _TINY, 1 - _TINY)
                prior = self.prior[1]
                value += self.class_balance * (
                    prior * np.log(prior / p_bar) + (1 - prior) * np.log((1 - prior) / (1 - p_bar))
                )
                d_pbar = -prior / p_bar + (1 - prior) / (1 - p_bar)
                G += self.class_balance * d_pbar * a * p * (1 - p)
            else:
                p_bar = np.maximum(a @ p, _TINY)
                value += self.class_balance * np.sum(self.prior * np.log(self.prior / p_bar))
                g = -self.prior / p_bar
                G += self.class_balance * a[:, None] * p * (g - (p @ g)[:, None])
        return value, G

    def __call__(self, params):
        coef, intercept = self.unpack(params)
        value = 0.5 * self.alpha * np.dot(coef.ravel(), coef.ravel())
        unlabeled = self.lambda_ > 0 and self.a_unl is not None
        fused = unlabeled and self.lab_rows is not None
        if unlabeled:
            Z_u = self._logits(self.X_unl, coef, intercept)
            value_u, G_u = self._unlabeled_terms(Z_u)
            value += self.lambda_ * value_u
            G_u *= self.lambda_
        # With lab_rows, the labelled rows are rows of X_unl (of zero unlabelled weight):
        # their logits come from the product above, and their gradient joins G_u, so
        # that X is read once forwards and once backwards.
        Z = Z_u[self.lab_rows] if fused else self._logits(self.X_lab, coef, intercept)
        terms = _binary_terms if self.binary else _multinomial_terms
        loss, G = terms(Z, self.y_lab)
        value += self.a_lab @ loss
        G *= self.a_lab[:, None] if G.ndim == 2 else self.a_lab
        if fused:
            G_u[self.lab_rows] += G
            g_coef, g_int = self._backprop(self.X_unl, G_u)
        else:
            g_coef, g_int = self._backprop(self.X_lab, G)
            if unlabeled:
                gu_coef, gu_int = self._backprop(self.X_unl, G_u)
                g_coef += gu_coef
                g_int = g_int + gu_int
        g_coef += self.alpha * coef
        grad = g_coef.ravel()
        if self.fit_intercept:
            grad = np.concatenate([grad, g_int])
        return float(value), grad


class EntropyRegularizedLogisticRegression(BaseSemiSupervisedClassifier):
    """Logistic regression trained with entropy minimisation on unlabelled rows.

    The loss is the weighted cross-entropy on the labelled rows plus ``lambda_``
    times the mean entropy of the predicted class probabilities on the
    unlabelled rows (``y == -1``), plus scikit-learn's L2 penalty. Minimising
    the entropy moves the decision boundary away from dense groups of
    unlabelled points (the low-density separation assumption). A class-balance
    penalty (``class_balance``) keeps the mean prediction on unlabelled rows
    near the labelled class frequencies, so that the entropy term cannot be
    lowered by giving most unlabelled rows to one class. Binary problems
    use one sigmoid output, multiclass problems a softmax (multinomial) output,
    exactly as :class:`~sklearn.linear_model.LogisticRegression`.

    The objective is non-convex for ``lambda_ > 0``. It is minimised by
    deterministic annealing: first the supervised (convex) problem, then
    ``annealing_steps`` problems with ``lambda_`` raised geometrically up to its
    final value, each warm-started from the previous solution. The supervised
    problem is solved as LogisticRegression solves it (scipy's L-BFGS-B); the
    annealing stages by an L-BFGS that keeps its curvature pairs from one stage to the
    next, so that a stage does not start again from a steepest-descent step.

    Read more in the :ref:`User Guide <entropy_logistic>`.

    Parameters
    ----------
    lambda_ : float, default=0.25
        Weight of the mean entropy of the unlabelled rows relative to the mean
        cross-entropy of the labelled rows (so it does not depend on how many
        rows of each kind there are). ``lambda_=0`` gives the solution of
        ``LogisticRegression(C=C)`` fitted on the labelled rows. The default
        was chosen on the benchmark suite's 27 real data sets over 0.5, 1 and
        2: it hurt least and gained most on average; larger values gain more
        where the classes are clusters (digits, MNIST, two moons) and lose
        more where they are not (``benchmarks/README.md``). The trailing
        underscore is there because ``lambda`` is a Python keyword.
    C : float, default=1.0
        Inverse of the L2 regularisation strength, on scikit-learn's scale: with
        ``lambda_=0`` the objective is ``0.5 ||W||^2 + C * sum_i s_i CE_i``.
    fit_intercept : bool, default=True
        Whether to add an (unpenalised) intercept to the decision function.
    class_balance : float, default=1.0
        Weight, relative to the mean entropy, of ``KL(pi || p_bar)``: ``pi`` the
        class frequencies of the labelled rows (weighted by ``sample_weight``),
        ``p_bar`` the mean predicted probabilities on the unlabelled rows. ``0``
        gives Grandvalet & Bengio's criterion alone, which on data like two moons
        tends to let one class swallow the unlabelled rows.
    class_weight : dict or "balanced", default=None
        Weights of the labelled rows of each class, as in LogisticRegression.
        ``"balanced"`` uses the labelled rows only. Unlabelled rows have no
        class, so only ``sample_weight`` weights their entropy.
    annealing_steps : int, default=5
        Number of entropy-regularised solves after the supervised one. The
        values of ``lambda_`` visited are ``lambda_ * 2 ** -(annealing_steps - k)``
        for ``k = 1, ..., annealing_steps``. ``annealing_steps=1`` jumps from the
        supervised solution straight to ``lambda_``.
    max_iter : int, default=200
        Maximum number of L-BFGS iterations of each solve.
    tol : float, default=1e-4
        L-BFGS stops when the largest gradient component is below ``tol``
        (the objective is normalised by the sum of the labelled weights, as in
        LogisticRegression).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen in the labelled rows (never ``-1``).
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients; one row for binary problems, as in LogisticRegression.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts (zeros when ``fit_intercept=False``).
    n_iter_ : ndarray of shape (n_stages,)
        L-BFGS iterations of each solve, the supervised one first.
    lambda_path_ : ndarray of shape (n_stages,)
        Value of ``lambda_`` at each solve (``0.0`` for the supervised one).
    objective_path_ : ndarray of shape (n_stages,)
        Normalised objective (see the User Guide) at the end of each solve.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during ``fit``, when ``X`` has string column names.
    class_share_ratio_ : float in [0, 1]
        Smallest ratio of a class's share among the predictions on the
        unlabelled training rows to its share among the labelled rows (1: the
        same shares). Below 0.25, ``fit`` warns with
        :class:`~sklearn_ssl.exceptions.ClassShareDriftWarning`.

    See Also
    --------
    sklearn.linear_model.LogisticRegression : The supervised model (``lambda_=0``).
    SelfTrainingWrapper : Self-training around any probabilistic classifier.
    sklearn.semi_supervised.SelfTrainingClassifier : scikit-learn's self-training.

    References
    ----------
    Y. Grandvalet and Y. Bengio, "Semi-supervised learning by entropy
    minimization", Advances in Neural Information Processing Systems 17, 2005.

    T. Joachims, "Transductive inference for text classification using support
    vector machines", ICML 1999 (the class-balance constraint).

    J. Nocedal and S. J. Wright, "Numerical Optimization", 2nd edition, Springer,
    2006, Algorithm 7.4 (L-BFGS).

    Examples
    --------
    >>> from sklearn.datasets import make_blobs
    >>> from sklearn_ssl.datasets import hide_labels
    >>> from sklearn_ssl.linear_model import EntropyRegularizedLogisticRegression
    >>> X, y = make_blobs(n_samples=200, centers=2, random_state=0)
    >>> y_ssl = hide_labels(y, n_per_class=3, random_state=0)
    >>> clf = EntropyRegularizedLogisticRegression(lambda_=1.0).fit(X, y_ssl)
    >>> clf.lambda_path_
    array([0.    , 0.0625, 0.125 , 0.25  , 0.5   , 1.    ])
    >>> clf.n_iter_.shape
    (6,)
    >>> round(float((clf.predict(X) == y).mean()), 3)
    0.975
    """

    _parameter_constraints: dict = {
        "lambda_": [Interval(numbers.Real, 0, None, closed="left")],
        "C": [Interval(numbers.Real, 0, None, closed="neither")],
        "fit_intercept": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "class_balance": [Interval(numbers.Real, 0, None, closed="left")],
        "annealing_steps": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        lambda_=0.25,
        *,
        C=1.0,
        fit_intercept=True,
        class_weight=None,
        class_balance=1.0,
        annealing_steps=5,
        max_iter=200,
        tol=1e-4,
    ):
        self.lambda_ = lambda_
        self.C = C
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight
        self.class_balance = class_balance
        self.annealing_steps = annealing_steps
        self.max_iter = max_iter
        self.tol = tol

    def __sklearn_is_fitted__(self):
        # The parameter ``lambda_`` ends with "_", so the default check (any
        # attribute ending with "_") would call an unfitted estimator fitted.
        return hasattr(self, "coef_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _lambda_schedule(self, has_unlabeled):
        if self.lambda_ == 0 or not has_unlabeled:
            return [0.0]
        n = self.annealing_steps
        return [0.0] + [float(self.lambda_) * 2.0 ** -(n - k) for k in range(1, n + 1)]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model on labelled and unlabelled rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, labelled and unlabelled rows together.
        y : array-like of shape (n_samples,)
            Labels, with ``-1`` for unlabelled rows.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows: they weight the cross-entropy of labelled rows
            and the entropy of unlabelled ones.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X, y, labeled, y_encoded = self._validate_semi_supervised(
            X,
            y,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
        )
        check_labeled_targets(y[labeled])
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        n_classes = self.classes_.shape[0]
        y_lab = y_encoded[labeled]
        w_lab = sample_weight[labeled].copy()
        if self.class_weight is not None:
            cw = compute_class_weight(
                self.class_weight,
                classes=self.classes_,
                y=self.classes_[y_lab],
                sample_weight=w_lab,
            )
            w_lab *= cw[y_lab]
        if not w_lab.sum() > 0:
            raise ValueError(
                "The labelled rows have a total weight of zero (sample_weight and "
                "class_weight); give some labelled rows a positive weight."
            )
        # The labelled rows are usually few: copy them. The unlabelled terms run
        # on all of X with zero weight on labelled rows, so the (usually large)
        # unlabelled part is never copied.
        X_lab = X if labeled.all() else _safe_indexing(X, np.flatnonzero(labeled))
        X_unl, w_unl = (None, None) if labeled.all() else (X, np.where(labeled, 0.0, sample_weight))

        binary = n_classes == 2
        objective = _Objective(
            X_lab,
            (y_lab == 1).astype(np.float64) if binary else y_lab,
            w_lab,
            X_unl,
            w_unl,
            n_coef_rows=1 if binary else n_classes,
            C=self.C,
            fit_intercept=self.fit_intercept,
            w_prior=sample_weight[labeled],
            class_balance=self.class_balance,
            lab_rows=None if labeled.all() else np.flatnonzero(labeled),
        )
        params = np.zeros(objective.n_params)
        n_iter, lambdas, values = [], [], []
        schedule = self._lambda_schedule(objective.a_unl is not None)
        memory = _LbfgsMemory(
            int(np.clip(_LBFGS_MEMORY_BYTES // (16 * objective.n_params), 10, _LBFGS_MEMORY))
        )
        for stage, lam in enumerate(schedule):
            objective.lambda_ = lam
            if stage == 0:
                # The supervised problem, with LogisticRegression's solver and settings
                # (so lambda_=0 is LogisticRegression); it only reads the labelled rows.
                # Its (up to 10) curvature pairs seed the first annealing stage.
                iterates = [np.array(params, dtype=np.float64)]
                result = scipy.optimize.minimize(
                    objective,
                    params,
                    method="L-BFGS-B",
                    jac=True,
                    callback=lambda xk, out=iterates: out.append(np.array(xk, dtype=np.float64)),
                    options={
                        "maxiter": self.max_iter,
                        "maxls": _MAXLS,
                        "gtol": self.tol,
                        "ftol": _FTOL,
                    },
                )
                for s, y in _pairs_oldest_first(result.hess_inv, iterates):
                    memory.add(s, y)
            else:
                # Each annealing stage starts from the previous solution and with its
                # curvature pairs (scipy's L-BFGS-B cannot be given them).
                result = _lbfgs(objective, params, memory, max_iter=self.max_iter, tol=self.tol)
            # Intermediate stages only warm-start the next one; warn for the last.
            # L-BFGS also stops "abnormally" at the limit of float precision near the
            # optimum (gradient ~1e-3); a line search that fails far from it (features
            # of scale 1e30: gradient 1e30, no step taken) is a failure too.
            steep = float(np.abs(result.jac).max()) if result.jac.size else 0.0
            if stage == len(schedule) - 1 and not result.success:
                if result.nit >= self.max_iter:
                    warnings.warn(
                        f"L-BFGS did not converge in max_iter={self.max_iter} iterations "
                        f"(lambda_={lam:g}). Increase max_iter or scale the data.",
                        ConvergenceWarning,
                    )
                elif steep > 1e3 * self.tol:
                    warnings.warn(
                        f"L-BFGS stopped after {result.nit} iteration(s) without converging "
                        f"(lambda_={lam:g}; the line search failed, largest gradient entry "
                        f"{steep:.2g}). Scale the features, e.g. with StandardScaler.",
                        ConvergenceWarning,
                    )
            params = result.x
            n_iter.append(int(result.nit))
            lambdas.append(lam)
            values.append(float(result.fun))

        coef, intercept = objective.unpack(params)
        self.coef_ = coef.astype(X.dtype)
        self.intercept_ = np.asarray(intercept, dtype=X.dtype).copy()
        self.n_iter_ = np.asarray(n_iter, dtype=np.int32)
        self.lambda_path_ = np.asarray(lambdas)
        self.objective_path_ = np.asarray(values)
        predicted = np.zeros(n_classes, dtype=np.int64)
        if not labeled.all():
            rows = np.flatnonzero(~labeled)
            scores = safe_sparse_dot(_safe_indexing(X, rows), self.coef_.T) + self.intercept_
            label = (scores.ravel() > 0).astype(int) if binary else scores.argmax(axis=1)
            predicted = np.bincount(label, minlength=n_classes)
        self.class_share_ratio_ = check_class_shares(
            self,
            np.bincount(y_lab, minlength=n_classes),
            predicted,
            what="the predictions on the unlabelled rows",
        )
        return self

    def _supervised_counterpart(self):
        """LogisticRegression with this model's penalty: the model at ``lambda_=0``."""
        return LogisticRegression(
            C=self.C,
            fit_intercept=self.fit_intercept,
            class_weight=self.class_weight,
            max_iter=max(self.max_iter, 1000),
        )

    def decision_function(self, X):
        """Return the logits: shape (n_samples,) for binary, else (n_samples, n_classes).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Positive values favour ``classes_[1]`` in the binary case.
        """
        check_is_fitted(self)
        X = validate_data(
            self, X, accept_sparse=["csr", "csc"], dtype=[np.float64, np.float32], reset=False
        )
        scores = safe_sparse_dot(X, self.coef_.T, dense_output=True) + self.intercept_
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict_proba(self, X):
        """Return class probabilities (sigmoid for binary, softmax otherwise).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p = expit(scores)
            return np.column_stack([1.0 - p, p])
        return np.exp(log_softmax(scores, axis=1))

    def predict_log_proba(self, X):
        """Return the logarithm of :meth:`predict_proba`.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities in the order of ``classes_``.
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return np.column_stack([-np.logaddexp(0, scores), -np.logaddexp(0, -scores)])
        return log_softmax(scores, axis=1)

    def predict(self, X):
        """Predict the class of each row.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels, from ``classes_``.
        """
        scores = self.decision_function(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[idx]
