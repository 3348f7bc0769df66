"""Tests of EntropyRegularizedLogisticRegression."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import check_grad, minimize
from sklearn.base import clone
from sklearn.datasets import load_iris, make_blobs, make_classification, make_moons
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_ssl import SelfTrainingWrapper
from sklearn_ssl.datasets import hide_labels
from sklearn_ssl.linear_model import EntropyRegularizedLogisticRegression
from sklearn_ssl.linear_model._entropy_logistic import _Objective
from sklearn_ssl.linear_model._lbfgs import _lbfgs, _LbfgsMemory

TIGHT = dict(tol=1e-10, max_iter=10_000)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def binary():
    return make_classification(n_samples=120, n_features=5, random_state=0)


@pytest.mark.parametrize("problem", ["binary", "iris"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("class_weight", [None, "balanced", "dict"])
def test_lambda_zero_is_sklearn_logistic_regression(problem, fit_intercept, class_weight, request):
    """lambda_=0: the minimiser of 0.5 ||W||^2 + C sum_i s_i CE_i, as LogisticRegression."""
    X, y = request.getfixturevalue(problem)
    if class_weight == "dict":
        class_weight = {0: 2.0, 1: 0.5} if problem == "binary" else {0: 2.0, 1: 0.5, 2: 1.0}
    sw = np.random.RandomState(0).uniform(0.5, 2.0, size=y.shape[0])
    params = dict(C=0.3, fit_intercept=fit_intercept, class_weight=class_weight)
    ref = LogisticRegression(**params, **TIGHT).fit(X, y, sample_weight=sw)
    est = EntropyRegularizedLogisticRegression(lambda_=0.0, **params, **TIGHT)
    est.fit(X, y, sample_weight=sw)
    assert est.coef_.shape == ref.coef_.shape
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(est.predict_proba(X), ref.predict_proba(X), atol=1e-7)
    np.testing.assert_allclose(est.decision_function(X), ref.decision_function(X), atol=1e-6)


def test_lambda_zero_ignores_unlabeled_rows(binary):
    """With lambda_=0 the unlabelled rows do not change the supervised solution."""
    X, y = binary
    y_ssl = hide_labels(y, n_per_class=10, random_state=0)
    labeled = y_ssl != -1
    ref = LogisticRegression(**TIGHT).fit(X[labeled], y[labeled])
    est = EntropyRegularizedLogisticRegression(lambda_=0.0, **TIGHT).fit(X, y_ssl)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-6, atol=1e-7)
    assert est.lambda_path_.tolist() == [0.0]


def _objective(n_classes, sparse, fit_intercept, rng, fused=False):
    """The objective on 60 rows, about 30% labelled.

    ``fused``: as ``fit`` builds it, the unlabelled terms run on all rows (zero weight
    on the labelled ones) and the labelled logits come from the same product.
    """
    X, y = make_classification(
        n_samples=60,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        n_classes=n_classes,
        random_state=0,
    )
    if sparse:
        X = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0.0))
    lab = rng.rand(60) < 0.3
    lab[:n_classes] = True
    y_lab = (y[lab] == 1).astype(float) if n_classes == 2 else y[lab]
    w_lab = rng.uniform(0.5, 1.5, lab.sum())
    w_unl = w_unl_rows = rng.uniform(0.5, 1.5, (~lab).sum())
    if fused:
        X_unl, lab_rows = X, np.flatnonzero(lab)
        w_unl = np.zeros(60)
        w_unl[~lab] = w_unl_rows
    else:
        X_unl, lab_rows = X[~lab], None
    obj = _Objective(
        X[lab],
        y_lab,
        w_lab,
        X_unl,
        w_unl,
        n_coef_rows=1 if n_classes == 2 else n_classes,
        C=0.7,
        fit_intercept=fit_intercept,
        w_prior=rng.uniform(0.5, 1.5, lab.sum()),
        class_balance=1.5,
        lab_rows=lab_rows,
    )
    obj.lambda_ = 2.0
    return obj


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("fused", [False, True])
def test_gradient_matches_finite_differences(n_classes, sparse, fit_intercept, fused):
    rng = np.random.RandomState(0)
    obj = _objective(n_classes, sparse, fit_intercept, rng, fused=fused)
    for _ in range(3):
        params = rng.randn(obj.n_params)
        grad = obj(params)[1]
        err = check_grad(lambda w: obj(w)[0], lambda w: obj(w)[1], params, epsilon=1e-7)
        assert err < 1e-5 * max(1.0, np.linalg.norm(grad))


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("sparse", [False, True])
def test_fused_objective_is_the_separate_one(n_classes, sparse):
    """Labelled logits taken from the product over all rows change no value or gradient."""
    separate = _objective(n_classes, sparse, True, np.random.RandomState(0))
    fused = _objective(n_classes, sparse, True, np.random.RandomState(0), fused=True)
    params = np.random.RandomState(1).randn(separate.n_params)
    for lam in (0.0, 2.0):
        separate.lambda_ = fused.lambda_ = lam
        value, grad = separate(params)
        fused_value, fused_grad = fused(params)
        assert fused_value == pytest.approx(value, rel=1e-12)
        np.testing.assert_allclose(fused_grad, grad, rtol=1e-10, atol=1e-14)


def _scipy_lbfgs(obj, x0, tol):
    return minimize(obj, x0, method="L-BFGS-B", jac=True, options={"gtol": tol, "maxiter": 10_000})


@pytest.mark.parametrize("n_classes", [2, 3])
def test_lbfgs_with_carried_memory_finds_scipys_minimisers(n_classes):
    """Along an annealing path, L-BFGS started with the previous stage's curvature pairs
    reaches the stationary points that scipy's L-BFGS-B, started afresh, reaches."""
    obj = _objective(n_classes, False, True, np.random.RandomState(0))
    x_ours = x_scipy = np.zeros(obj.n_params)
    memory = _LbfgsMemory(50)
    for lam in (0.0, 0.25, 0.5, 1.0, 2.0):
        obj.lambda_ = lam
        n_pairs = len(memory.s)
        ours = _lbfgs(obj, x_ours, memory, max_iter=10_000, tol=1e-7)
        ref = minimize(obj, x_scipy, method="L-BFGS-B", jac=True, options={"gtol": 1e-7})
        assert np.abs(ours.jac).max() <= 1e-7
        assert ours.fun == pytest.approx(ref.fun, rel=1e-7)
        np.testing.assert_allclose(ours.x, ref.x, atol=1e-4)
        assert len(memory.s) > n_pairs if lam == 0 else len(memory.s) >= n_pairs
        x_ours, x_scipy = ours.x, ref.x


def test_lbfgs_memory_keeps_the_newest_pairs_of_positive_curvature():
    memory = _LbfgsMemory(3)
    for k in range(5):
        memory.add(np.array([1.0, k]), np.array([1.0, 0.0]))
    memory.add(np.array([1.0, 0.0]), np.array([-1.0, 0.0]))  # s.y < 0: dropped
    assert [s[1] for s in memory.s] == [2.0, 3.0, 4.0]
    # On a quadratic, the direction from pairs spanning the space is the Newton step.
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    memory = _LbfgsMemory(10)
    for s in (np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([1.0, 1.0])):
        memory.add(s, A @ s)
    g = np.array([0.5, -2.0])
    np.testing.assert_allclose(memory.direction(g), -np.linalg.solve(A, g), rtol=0.2)
    memory.clear()
    np.testing.assert_allclose(memory.direction(g), -g / np.linalg.norm(g))


def test_lbfgs_stops_at_max_iter_and_on_a_failed_line_search():
    obj = _objective(3, False, True, np.random.RandomState(0))
    result = _lbfgs(obj, np.zeros(obj.n_params), _LbfgsMemory(10), max_iter=2, tol=1e-9)
    assert (result.nit, result.success, result.message) == (2, False, "max_iter reached")

    def no_descent(x):  # the gradient points the wrong way: no step can satisfy Wolfe
        return float(x @ x), -2 * x - 1.0

    result = _lbfgs(no_descent, np.ones(3), _LbfgsMemory(10), max_iter=100, tol=1e-9)
    assert (result.nit, result.success, result.message) == (0, False, "line search failed")


def _moons(n_samples=400, seed=0):
    X, y = make_moons(n_samples=n_samples, noise=0.1, random_state=seed)
    return X, y, hide_labels(y, n_per_class=3, random_state=seed)


def test_entropy_term_beats_supervised_on_two_moons():
    """The entropy term moves the boundary into the gap between the moons."""
    X, y, y_ssl = _moons()
    X_test, y_test = make_moons(n_samples=1000, noise=0.1, random_state=100)
    labeled = y_ssl != -1
    features = Nystroem(gamma=3.0, n_components=100, random_state=0).fit(X)
    sup = LogisticRegression(C=10.0).fit(features.transform(X[labeled]), y[labeled])
    sup_acc = sup.score(features.transform(X_test), y_test)
    pipe = make_pipeline(clone(features), EntropyRegularizedLogisticRegression(lambda_=1.0, C=10.0))
    ssl_acc = pipe.fit(X, y_ssl).score(X_test, y_test)
    assert ssl_acc > sup_acc + 0.05
    assert ssl_acc > 0.9


def test_entropy_is_lower_than_supervised_on_unlabeled_rows():
    X, y, y_ssl = _moons()
    Z = Nystroem(gamma=3.0, n_components=100, random_state=0).fit_transform(X)
    unlabeled = y_ssl == -1

    def mean_entropy(est):
        p = est.predict_proba(Z[unlabeled])
        return -np.mean(np.sum(p * np.log(np.clip(p, 1e-300, None)), axis=1))

    sup = EntropyRegularizedLogisticRegression(lambda_=0.0, C=10.0).fit(Z, y_ssl)
    ssl = EntropyRegularizedLogisticRegression(lambda_=1.0, C=10.0).fit(Z, y_ssl)
    assert mean_entropy(ssl) < 0.8 * mean_entropy(sup)


def test_class_balance_keeps_mean_prediction_near_labeled_frequencies():
    X, y, y_ssl = _moons()
    Z = Nystroem(gamma=3.0, n_components=100, random_state=0).fit_transform(X)
    unlabeled = y_ssl == -1

    def imbalance(class_balance):
        est = EntropyRegularizedLogisticRegression(lambda_=3.0, C=10.0, class_balance=class_balance)
        return abs(est.fit(Z, y_ssl).predict_proba(Z[unlabeled])[:, 1].mean() - 0.5)

    assert imbalance(5.0) < imbalance(0.0)
    assert imbalance(5.0) < 0.05


def test_annealing_records_every_stage(iris):
    X, y = iris
    y_ssl = hide_labels(y, n_per_class=5, random_state=0)
    est = EntropyRegularizedLogisticRegression(lambda_=2.0, annealing_steps=3).fit(X, y_ssl)
    np.testing.assert_allclose(est.lambda_path_, [0.0, 0.5, 1.0, 2.0])
    assert est.n_iter_.shape == est.objective_path_.shape == (4,)
    assert np.all(est.n_iter_ >= 1)
    # The first stage is the supervised problem, solved from zero.
    sup = EntropyRegularizedLogisticRegression(lambda_=0.0).fit(X, y_ssl)
    assert est.objective_path_[0] == pytest.approx(sup.objective_path_[0])
    assert est.n_iter_[0] == sup.n_iter_[0]

    direct = EntropyRegularizedLogisticRegression(lambda_=2.0, annealing_steps=1).fit(X, y_ssl)
    np.testing.assert_allclose(direct.lambda_path_, [0.0, 2.0])


def test_sparse_and_dense_give_the_same_model(iris):
    X, y = iris
    y_ssl = hide_labels(y, n_per_class=5, random_state=0)
    dense = EntropyRegularizedLogisticRegression(tol=1e-8).fit(X, y_ssl)
    for fmt in (sp.csr_matrix, sp.csc_matrix):
        sparse = EntropyRegularizedLogisticRegression(tol=1e-8).fit(fmt(X), y_ssl)
        np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(sparse.predict_proba(fmt(X)), dense.predict_proba(X), atol=1e-6)


def test_float32_is_kept(iris):
    X, y = iris
    y_ssl = hide_labels(y, n_per_class=5, random_state=0)
    est64 = EntropyRegularizedLogisticRegression().fit(X, y_ssl)
    est32 = EntropyRegularizedLogisticRegression().fit(X.astype(np.float32), y_ssl)
    assert est32.coef_.dtype == est32.intercept_.dtype == np.float32
    assert est64.coef_.dtype == np.float64
    np.testing.assert_allclose(est32.coef_, est64.coef_, rtol=1e-3, atol=1e-3)
    X32 = X.astype(np.float32)
    assert np.mean(est32.predict(X32) == est64.predict(X)) > 0.99


@pytest.mark.parametrize("n_classes", [2, 3])
def test_integer_sample_weight_is_repetition(n_classes):
    X, y = make_blobs(n_samples=60, centers=n_classes, random_state=0)
    y_ssl = hide_labels(y, n_per_class=4, random_state=0)
    weights = np.random.RandomState(0).randint(0, 3, size=60)
    weights[y_ssl != -1] = np.maximum(weights[y_ssl != -1], 1)
    params = dict(lambda_=0.5, **TIGHT)
    weighted = EntropyRegularizedLogisticRegression(**params).fit(X, y_ssl, sample_weight=weights)
    rep = np.repeat(np.arange(60), weights)
    repeated = EntropyRegularizedLogisticRegression(**params).fit(X[rep], y_ssl[rep])
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-5, atol=1e-6)


def test_pipeline_with_polynomial_features():
    X, y, y_ssl = _moons(n_samples=200)
    pipe = make_pipeline(
        StandardScaler(), PolynomialFeatures(degree=3), EntropyRegularizedLogisticRegression()
    )
    pipe.fit(X, y_ssl)
    assert pipe.predict_proba(X).shape == (200, 2)
    # score ignores -1 rows
    assert 0.0 <= pipe.score(X, y_ssl) <= 1.0


def test_predictions_are_consistent(iris, binary):
    for X, y in (iris, binary):
        y_ssl = hide_labels(y, n_per_class=5, random_state=0)
        est = EntropyRegularizedLogisticRegression().fit(X, y_ssl)
        proba = est.predict_proba(X)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        np.testing.assert_allclose(np.exp(est.predict_log_proba(X)), proba)
        np.testing.assert_array_equal(est.predict(X), est.classes_[proba.argmax(axis=1)])
        scores = est.decision_function(X)
        assert scores.shape == ((X.shape[0],) if len(est.classes_) == 2 else proba.shape)


def test_string_labels_and_object_marker():
    X, y = make_blobs(n_samples=60, centers=2, random_state=0)
    y_str = np.array(["cat", "dog"], dtype=object)[y]
    y_str[10:50] = -1
    est = EntropyRegularizedLogisticRegression().fit(X, y_str)
    assert est.classes_.tolist() == ["cat", "dog"]
    assert set(est.predict(X)) <= {"cat", "dog"}


def test_inputs_are_not_modified(iris):
    X, y = iris
    y_ssl = hide_labels(y, n_per_class=5, random_state=0)
    sw = np.ones(y.shape[0])
    X_copy, y_copy, sw_copy = X.copy(), y_ssl.copy(), sw.copy()
    EntropyRegularizedLogisticRegression(class_weight="balanced").fit(X, y_ssl, sample_weight=sw)
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y_ssl, y_copy)
    np.testing.assert_array_equal(sw, sw_copy)


@pytest.mark.parametrize(
    "y, match",
    [
        (np.full(20, -1), "no labelled row"),
        (np.r_[np.zeros(5), np.full(15, -1)], "one class"),
        (np.r_[np.zeros(5), np.ones(5), np.full(9, -1), np.nan], "NaN"),
    ],
)
def test_bad_y_errors(y, match):
    X = np.random.RandomState(0).randn(20, 2)
    with pytest.raises(ValueError, match=match):
        EntropyRegularizedLogisticRegression().fit(X, y)


def test_nan_in_X_errors():
    X, y = make_blobs(n_samples=20, centers=2, random_state=0)
    X[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        EntropyRegularizedLogisticRegression().fit(X, y)


@pytest.mark.parametrize(
    "params",
    [{"lambda_": -1.0}, {"C": 0.0}, {"class_balance": -0.5}, {"annealing_steps": 0}],
)
def test_bad_parameters_error(params):
    X, y = make_blobs(n_samples=20, centers=2, random_state=0)
    name = next(iter(params))
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        EntropyRegularizedLogisticRegression(**params).fit(X, y)


def test_zero_labeled_weight_errors():
    X, y = make_blobs(n_samples=20, centers=2, random_state=0)
    y_ssl = y.copy()
    y_ssl[10:] = -1
    sample_weight = np.r_[np.zeros(10), np.ones(10)]
    with pytest.raises(ValueError, match="total weight of zero"):
        EntropyRegularizedLogisticRegression().fit(X, y_ssl, sample_weight=sample_weight)


def test_negative_weights_and_many_classes_of_one_label():
    X, y = make_blobs(n_samples=90, centers=30, random_state=0)
    y_ssl = np.full_like(y, -1)
    first = np.unique(y, return_index=True)[1]  # one label per class: 30 of 90 rows
    y_ssl[first] = y[first]
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        sample_weight = np.ones(90)
        sample_weight[first[0]] = -1.0
        EntropyRegularizedLogisticRegression().fit(X, y_ssl, sample_weight=sample_weight)
    # scikit-learn's target check warns when over half the rows are distinct classes
    # (a regression target?): with one label per class that is the normal case.
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="The number of unique classes")
        warnings.simplefilter("ignore", ConvergenceWarning)
        EntropyRegularizedLogisticRegression(max_iter=5).fit(X, y_ssl)


def test_unfitted_and_convergence_warning(iris):
    X, y = iris
    with pytest.raises(NotFittedError):
        EntropyRegularizedLogisticRegression().predict(X)
    y_ssl = hide_labels(y, n_per_class=5, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        EntropyRegularizedLogisticRegression(max_iter=1).fit(X, y_ssl)
    # Features of scale 1e30: the line search fails at once (no step, coefficients
    # all zero), which used to pass in silence.
    with pytest.warns(ConvergenceWarning, match="line search failed.*StandardScaler"):
        EntropyRegularizedLogisticRegression().fit(X * 1e30, y_ssl)
    with warnings.catch_warnings():  # and a sound fit stays quiet
        warnings.simplefilter("error", ConvergenceWarning)
        EntropyRegularizedLogisticRegression().fit(X, y_ssl)


def test_inner_estimator_of_self_training_wrapper():
    X, y = make_blobs(n_samples=150, centers=3, random_state=0)
    y_ssl = hide_labels(y, n_per_class=3, random_state=0)
    wrapper = SelfTrainingWrapper(
        EntropyRegularizedLogisticRegression(lambda_=0.5), weighting="smooth", max_iter=3
    )
    wrapper.fit(X, y_ssl, sample_weight=np.ones(150))
    assert isinstance(wrapper.estimator_, EntropyRegularizedLogisticRegression)
    assert wrapper.predict_proba(X).shape == (150, 3)
    assert wrapper.score(X, y) > 0.8


def test_inner_estimator_of_local_label_propagation():
    from sklearn_ssl import LocalLabelPropagation

    X, y = make_blobs(n_samples=150, centers=3, random_state=0)
    y_ssl = hide_labels(y, n_per_class=3, random_state=0)
    model = LocalLabelPropagation(EntropyRegularizedLogisticRegression(), n_neighbors=5)
    model.fit(X, y_ssl)
    assert model.score(X, y) > 0.8


def test_lambda_is_tunable_by_grid_search():
    from sklearn.model_selection import GridSearchCV

    from sklearn_ssl.model_selection import LabeledStratifiedKFold

    X, y = make_blobs(n_samples=120, centers=2, random_state=0)
    y_ssl = hide_labels(y, n_per_class=6, random_state=0)
    search = GridSearchCV(
        EntropyRegularizedLogisticRegression(),
        {"lambda_": [0.0, 1.0]},
        cv=LabeledStratifiedKFold(n_splits=3),
    ).fit(X, y_ssl)
    assert search.best_params_["lambda_"] in (0.0, 1.0)
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


def test_scipy_curvature_pairs_are_put_oldest_first():
    # scipy keeps L-BFGS-B's pairs in a ring buffer: after more than 10 updates the
    # newest wrap around to the front. The pairs that seed the annealing stages
    # must be in the order the steps were taken.
    import scipy.optimize

    from sklearn_ssl.linear_model._lbfgs import _pairs_oldest_first

    rng = np.random.RandomState(0)
    A = rng.randn(40, 40)
    H = A @ A.T + np.diag(np.logspace(0, 3, 40))

    def fun(x):
        return 0.5 * x @ H @ x, H @ x

    iterates = [np.ones(40)]
    result = scipy.optimize.minimize(
        fun,
        np.ones(40),
        jac=True,
        method="L-BFGS-B",
        callback=lambda xk: iterates.append(np.array(xk)),
        options={"maxiter": 25, "gtol": 0.0, "ftol": 0.0},
    )
    assert result.nit > result.hess_inv.n_corrs  # the buffer wrapped around
    pairs = _pairs_oldest_first(result.hess_inv, iterates)
    steps = np.diff(np.array(iterates), axis=0)
    assert len(pairs) == result.hess_inv.n_corrs
    # Each pair is one of the steps taken, y = H s, and the steps come in the order
    # they were taken: consecutive, the newest among the last two (scipy adds a
    # step's pair at the start of the next iteration).
    taken = []
    for s, y in pairs:
        k = int(np.argmin(np.abs(steps - s).max(axis=1)))
        np.testing.assert_allclose(s, steps[k], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(y, H @ s, rtol=1e-6, atol=1e-8)
        taken.append(k)
    assert taken == list(range(taken[0], taken[0] + len(pairs)))
    assert taken[-1] >= len(steps) - 2
    # What scipy stores is not in that order (the reason for the helper).
    stored = [int(np.argmin(np.abs(steps - s).max(axis=1))) for s in result.hess_inv.sk]
    assert stored != sorted(stored)
