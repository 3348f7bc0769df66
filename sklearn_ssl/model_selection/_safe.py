"""A guard against semi-supervised learning that hurts: use it only where it wins."""

import time
import warnings
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed
from scipy.stats import binomtest
from sklearn.base import MetaEstimatorMixin, _fit_context, clone, is_classifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing, get_tags
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_consistent_length, check_is_fitted, indexable

from ..base import BaseSemiSupervisedClassifier
from ..exceptions import SupervisedFallbackWarning
from ..utils._labels import check_labeled_targets, check_semi_supervised_y, is_labeled
from ..utils._meta import estimator_has
from ._split import LabeledStratifiedKFold

SEMI_SUPERVISED, SUPERVISED = "semi-supervised", "supervised"


def supervised_counterpart(estimator):
    """The supervised model a semi-supervised ``estimator`` is compared with.

    The classifier a wrapper wraps (``estimator`` of a self-training wrapper;
    through a search or meta-estimator whose ``estimator`` is semi-supervised,
    that one's counterpart);
    an estimator's own ``_supervised_counterpart()`` when it defines one
    (EntropyRegularizedLogisticRegression: LogisticRegression with the same
    ``C``); for a Pipeline, the same Pipeline with its last step replaced;
    otherwise ``LogisticRegression(max_iter=1000)``, a strong model at low label
    counts. Returned unfitted and cloned.
    """
    if isinstance(estimator, Pipeline):
        counterpart = clone(estimator)
        name, last = counterpart.steps[-1]
        counterpart.steps[-1] = (name, supervised_counterpart(last))
        return counterpart
    if hasattr(estimator, "_supervised_counterpart"):
        return clone(estimator._supervised_counterpart())
    inner = estimator.get_params(deep=False).get("estimator")
    if isinstance(inner, BaseSemiSupervisedClassifier):
        # A search or another meta-estimator around a semi-supervised model.
        return supervised_counterpart(inner)
    if inner is not None and is_classifier(inner):
        return clone(inner)
    return LogisticRegression(max_iter=1000)


def sign_test_pvalue(n_wins, n_losses):
    """One-sided exact sign test: P(at least ``n_wins`` of ``n_wins + n_losses`` by chance).

    Under the hypothesis that neither model is better, each row that only one of
    them predicts correctly is that of either model with probability 1/2
    (McNemar's exact test, one-sided).
    """
    n = n_wins + n_losses
    if n == 0:
        return 1.0
    return float(binomtest(n_wins, n, 0.5, alternative="greater").pvalue)


def _estimator_has(attr):
    """Either model may be selected: before fit, both must have ``attr``."""
    return estimator_has(attr, lambda self: [self.estimator, self._supervised_estimator()])


def _fit_and_predict(estimator, X, y, train, test, labeled_only):
    """Fit on ``train`` (its labelled rows only if ``labeled_only``); predict ``test``."""
    if labeled_only:
        train = train[is_labeled(y[train])]
    tic = time.perf_counter()
    with warnings.catch_warnings():
        # Each fold would repeat the refit's warnings (convergence, class shares).
        warnings.simplefilter("ignore")
        estimator.fit(_safe_indexing(X, train), y[train])
    fit_time = time.perf_counter() - tic
    return estimator.predict(_safe_indexing(X, test)), fit_time


class SafeSemiSupervisedClassifier(MetaEstimatorMixin, BaseSemiSupervisedClassifier):
    """Use a semi-supervised estimator only where cross-validation shows that it helps.

    Learning from unlabelled rows can hurt: when the classes do not form
    separate clusters, pseudo-labels or a graph can spread mistakes. This
    meta-estimator compares the semi-supervised ``estimator`` with its
    supervised counterpart by cross-validation on the labelled rows, every
    unlabelled row kept in each training fold (the counterpart sees the labelled
    training rows only), and predicts with the semi-supervised one only when it
    wins with evidence; otherwise it falls back to the supervised model and
    emits :class:`~sklearn_ssl.exceptions.SupervisedFallbackWarning`.

    The evidence is a paired comparison of the out-of-fold predictions on the
    labelled rows. Let ``b`` be the rows only the semi-supervised model gets
    right and ``c`` those only the supervised one gets right. The
    semi-supervised model is selected when its out-of-fold accuracy is higher,
    its balanced accuracy not lower, and the one-sided exact sign test of
    ``b`` against ``c`` (McNemar's test) gives a p-value of at most ``alpha``.
    Balanced accuracy is required not to drop so that a model that gains
    accuracy by ignoring a minority class is not chosen.

    Read more in the :ref:`User Guide <safe>`.

    Parameters
    ----------
    estimator : estimator object
        The semi-supervised classifier (or a Pipeline ending in one), fitted on
        ``y`` with ``-1`` for unlabelled rows.

    supervised_estimator : estimator object, default=None
        The supervised classifier it is compared with, fitted on the labelled
        rows only. None: the classifier a wrapper wraps (the ``estimator`` of
        :class:`~sklearn_ssl.SelfTrainingWrapper` or of scikit-learn's
        ``SelfTrainingClassifier``), ``LogisticRegression`` with the same ``C``
        for :class:`~sklearn_ssl.EntropyRegularizedLogisticRegression`, else
        ``LogisticRegression(max_iter=1000)``; a Pipeline's last step is
        replaced by the counterpart of its last step.

    cv : int or cross-validation generator, default=5
        Folds of the comparison. An int is the number of folds of a shuffled
        :class:`~sklearn_ssl.model_selection.LabeledStratifiedKFold` that keeps
        every unlabelled row in every training fold; there must be at least as
        many labelled rows, and every labelled class needs two rows (one may be
        held out while the other trains). A generator's test folds are scored
        on their labelled rows only.

    alpha : float in (0, 1], default=0.3
        Largest p-value of the sign test at which the semi-supervised model is
        selected: lower is more cautious (it falls back more often), 1 selects
        it whenever its cross-validated accuracy is higher and its balanced
        accuracy not lower. The default was chosen on the benchmark suite, replaying every
        guarded run under other values: it kept the hurt rate of each
        estimator under 5% while keeping most of the gain where
        semi-supervised learning helps, which 0.1 did not with 10 labelled rows
        per class (``benchmarks/README.md``).

    n_jobs : int, default=None
        Folds fitted in parallel with joblib (None: one at a time).

    random_state : int, RandomState instance or None, default=None
        Shuffles the rows of the folds when ``cv`` is an int. The estimators'
        own ``random_state`` is left as given.

    Attributes
    ----------
    estimator_ : estimator object
        The selected model, refitted on all the data: the semi-supervised
        estimator on all rows, or the supervised one on the labelled rows.

    selected_ : {"semi-supervised", "supervised"}
        Which model predicts.

    cv_results_ : dict of ndarrays
        One entry per candidate (``"candidate"``: semi-supervised, then
        supervised) with ``mean_test_accuracy`` and ``mean_test_balanced_accuracy``
        (over the out-of-fold predictions of all labelled rows, each row counted
        once however many folds tested it), ``split<k>_test_accuracy`` for each
        fold and ``mean_fit_time``;
        ``pandas.DataFrame(cv_results_)`` makes a table of it.

    cv_gain_ : dict
        Out-of-fold ``accuracy`` and ``balanced_accuracy`` of the
        semi-supervised model minus the supervised one's, ``n_wins`` (``b``),
        ``n_losses`` (``c``) and the sign test's ``p_value``. With a ``cv``
        that tests a row more than once (repeated splits), a row counts by the
        share of its folds that each model got right, and ``b`` and ``c`` are
        rounded sums of those shares.

    classes_ : ndarray of shape (n_classes,)
        Class labels (never the marker -1).

    n_features_in_ : int
        Number of features seen during fit, by the selected model.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during fit, when the selected model records them.

    See Also
    --------
    sklearn_ssl.model_selection.LabeledStratifiedKFold : the folds used for an int ``cv``.

    References
    ----------
    Y.-F. Li and Z.-H. Zhou, "Towards Making Unlabeled Data Never Hurt", IEEE
    TPAMI 37(1), 2015: the goal of a semi-supervised method that is never
    worse than the supervised one; this class reaches for it by model
    selection rather than by a safe objective.

    Q. McNemar, "Note on the sampling error of the difference between
    correlated proportions or percentages", Psychometrika 12, 1947.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from sklearn_ssl import LabelSpreading, SafeSemiSupervisedClassifier
    >>> from sklearn_ssl.datasets import hide_labels
    >>> X, y = make_moons(400, noise=0.1, random_state=0)
    >>> y_ssl = hide_labels(y, n_per_class=25, random_state=0)
    >>> clf = SafeSemiSupervisedClassifier(LabelSpreading(), random_state=0).fit(X, y_ssl)
    >>> clf.selected_
    'semi-supervised'
    >>> round(clf.score(X, y), 2)
    1.0
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"])],
        "supervised_estimator": [HasMethods(["fit", "predict"]), None],
        "cv": [Interval(Integral, 2, None, closed="left"), HasMethods(["split"])],
        "alpha": [Interval(Real, 0, 1, closed="right")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator,
        *,
        supervised_estimator=None,
        cv=5,
        alpha=0.3,
        n_jobs=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.supervised_estimator = supervised_estimator
        self.cv = cv
        self.alpha = alpha
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _supervised_estimator(self):
        if self.supervised_estimator is not None:
            return self.supervised_estimator
        return supervised_counterpart(self.estimator)

    def _validate_target(self, X, y):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None. "
                "Pass y with -1 for unlabelled rows."
            )
        y, labeled, self.classes_, y_encoded = check_semi_supervised_y(y)
        check_labeled_targets(y[labeled])
        check_consistent_length(X, y)
        return y, labeled, y_encoded

    @property
    def n_features_in_(self):
        """Number of features seen during fit (by the selected model)."""
        check_is_fitted(self)
        return self.estimator_.n_features_in_

    @property
    def feature_names_in_(self):
        """Names of the features seen during fit, when X had string column names."""
        check_is_fitted(self)
        return self.estimator_.feature_names_in_

    def _check_cv(self, y_encoded, labeled):
        counts = np.bincount(y_encoded[labeled], minlength=self.classes_.shape[0])
        if counts.min() < 2:
            rare = self.classes_[counts < 2].tolist()
            rare = str(rare[:5])[:-1] + (", ...]" if len(rare) > 5 else "]")
            raise ValueError(
                f"{type(self).__name__} needs at least 2 labelled rows of every class to "
                f"compare the models by cross-validation (one held out, one to train on); "
                f"class(es) {rare} have {counts.min()}. Label more rows of them, or fit the "
                "semi-supervised estimator without the guard."
            )
        if not isinstance(self.cv, Integral):
            return self.cv
        n_labeled = int(labeled.sum())
        if n_labeled < self.cv:
            raise ValueError(
                f"cv={self.cv} folds need at least {self.cv} labelled rows, but y has "
                f"{n_labeled}. Pass a smaller cv or label more rows."
            )
        return LabeledStratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, **fit_params):
        """Compare the two models by cross-validation, then refit the selected one.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data, labelled and unlabelled rows together.
        y : array-like of shape (n_samples,)
            Labels, with -1 for unlabelled rows.
        **fit_params : dict
            Not supported; passing any raises an error.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        if fit_params:
            raise TypeError(
                f"{type(self).__name__}.fit takes no fit parameters, got "
                f"{sorted(fit_params)}. Set them on the estimators instead."
            )
        # X goes to the estimators as given (a DataFrame to a ColumnTransformer,
        # say): they validate it, as GridSearchCV leaves it to them.
        y, labeled, y_encoded = self._validate_target(X, y)
        X = indexable(X)[0]  # as GridSearchCV: csr for other sparse formats, arrays
        cv = self._check_cv(y_encoded, labeled)
        supervised = self._supervised_estimator()
        folds = list(cv.split(X, y))
        jobs = []
        for train, test in folds:
            test = test[labeled[test]]
            if test.shape[0] == 0:
                continue
            for candidate, labeled_only in ((self.estimator, False), (supervised, True)):
                jobs.append((clone(candidate), train, test, labeled_only))
        if not jobs:
            raise ValueError("The cross-validation folds hold no labelled test row.")
        out = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_and_predict)(est, X, y, train, test, lab_only)
            for est, train, test, lab_only in jobs
        )
        self._record_cv(jobs, out, y_encoded, labeled)

        if self.selected_ == SEMI_SUPERVISED:
            self.estimator_ = clone(self.estimator).fit(X, y)
        else:
            rows = np.flatnonzero(labeled)
            self.estimator_ = clone(supervised).fit(_safe_indexing(X, rows), y[rows])
            gain = self.cv_gain_
            reasons = []
            if gain["accuracy"] <= 0:
                reasons.append(f"accuracy changed by {100 * gain['accuracy']:+.1f} points")
            if gain["balanced_accuracy"] < 0:
                reasons.append(
                    f"balanced accuracy fell by {-100 * gain['balanced_accuracy']:.1f} points"
                )
            if gain["p_value"] > self.alpha:
                reasons.append(
                    f"its {gain['n_wins']} wins against {gain['n_losses']} losses give a sign "
                    f"test p = {gain['p_value']:.2g} > alpha = {self.alpha}"
                )
            warnings.warn(
                f"{_name(self.estimator)} did not beat {_name(supervised)} in "
                f"{len(folds)}-fold cross-validation on the {int(labeled.sum())} labelled rows "
                f"({'; '.join(reasons)}); predicting with the supervised model. See "
                "selected_ and cv_results_.",
                SupervisedFallbackWarning,
            )
        return self

    def _record_cv(self, jobs, out, y_encoded, labeled):
        """Turn the out-of-fold predictions into cv_results_, cv_gain_ and selected_."""
        n_classes = self.classes_.shape[0]
        lookup = {c: k for k, c in enumerate(self.classes_.tolist())}
        # Out-of-fold correctness of each labelled row, summed over the folds that
        # test it (once with an int cv).
        hits = np.zeros((2, y_encoded.shape[0]))
        tested = np.zeros((2, y_encoded.shape[0]))
        split_scores = [[], []]
        fit_times = [[], []]
        for (_, _, test, labeled_only), (pred, fit_time) in zip(jobs, out, strict=True):
            which = int(labeled_only)
            pred_enc = np.array([lookup.get(p, -1) for p in np.asarray(pred).tolist()])
            correct = pred_enc == y_encoded[test]
            hits[which, test] += correct
            tested[which, test] += 1
            split_scores[which].append(float(correct.mean()))
            fit_times[which].append(fit_time)
        rows = tested[0] > 0
        accuracy = hits[:, rows] / tested[:, rows]
        y_rows = y_encoded[rows]
        per_class = np.array(
            [
                [accuracy[w, y_rows == k].mean() for k in range(n_classes) if (y_rows == k).any()]
                for w in (0, 1)
            ]
        )
        mean_acc = accuracy.mean(axis=1)
        mean_bal = per_class.mean(axis=1)
        diff = accuracy[0] - accuracy[1]
        n_wins = int(round(diff[diff > 0].sum()))
        n_losses = int(round(-diff[diff < 0].sum()))
        p_value = sign_test_pvalue(n_wins, n_losses)
        self.cv_gain_ = {
            "accuracy": float(mean_acc[0] - mean_acc[1]),
            "balanced_accuracy": float(mean_bal[0] - mean_bal[1]),
            "n_wins": n_wins,
            "n_losses": n_losses,
            "p_value": p_value,
        }
        results = {
            "candidate": np.array([SEMI_SUPERVISED, SUPERVISED], dtype=object),
            "mean_test_accuracy": mean_acc,
            "mean_test_balanced_accuracy": mean_bal,
        }
        for k in range(len(split_scores[0])):
            results[f"split{k}_test_accuracy"] = np.array([split_scores[0][k], split_scores[1][k]])
        results["mean_fit_time"] = np.array([np.mean(fit_times[0]), np.mean(fit_times[1])])
        self.cv_results_ = results
        wins = (
            self.cv_gain_["accuracy"] > 0
            and self.cv_gain_["balanced_accuracy"] >= 0
            and p_value <= self.alpha
        )
        self.selected_ = SEMI_SUPERVISED if wins else SUPERVISED

    # ------------------------------------------------------------- predict
    def predict(self, X):
        """Predict class labels with the selected model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from the selected model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the selected model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.estimator_.decision_function(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Either model may end up predicting: both must take the input.
        both = [get_tags(self.estimator), get_tags(self._supervised_estimator())]
        tags.input_tags.sparse = all(t.input_tags.sparse for t in both)
        tags.input_tags.allow_nan = all(t.input_tags.allow_nan for t in both)
        return tags


def _name(estimator):
    if isinstance(estimator, Pipeline):
        return f"the Pipeline ending in {_name(estimator.steps[-1][1])}"
    return type(estimator).__name__
