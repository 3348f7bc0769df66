"""One BLAS thread for the small fits and predictions of iterative meta-estimators."""

from contextlib import nullcontext

from scipy import sparse

# Values of X (stored values when sparse) up to which a fit or prediction runs
# with one BLAS thread; benchmarks/README.md ("BLAS threads") has the measurements.
SMALL_BLAS_WORK = 4_000_000


def blas_threads_for(X):
    """Context manager: BLAS limited to one thread if the work on ``X`` is small.

    Self-training refits its classifier hundreds of times, and most refits and
    predictions are small. With several BLAS threads each BLAS or LAPACK call
    is handed to OpenBLAS' worker threads, whatever its size, and the caller
    waits (spinning) until they are done. scikit-learn's LogisticRegression
    solves with SciPy's L-BFGS-B, which since SciPy 1.15 calls LAPACK
    (``dtrtrs``, ``dpotrf``) in every iteration on matrices of at most twice
    its 10 correction pairs, whatever the data size (scipy/scipy#22438,
    OpenMathLib/OpenBLAS#5383), and the loss and gradient are products with
    ``X``. For small ``X`` these hand-offs cost more than the arithmetic, and
    far more on a busy machine, where a worker thread waiting for a core holds
    up every call. With large ``X`` the products dominate and several threads
    can pay, so the user's setting is kept there.

    The limit is process-wide and counted (see ``sklearn_ssl.graph._graph``),
    so that concurrent fits in threads do not lift it under one another; it is
    lifted on leaving, also when the body raises.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        The rows the call works on.

    Returns
    -------
    context : context manager
    """
    if sparse.issparse(X):
        work = X.nnz
    else:
        shape = getattr(X, "shape", (0,))
        work = shape[0] * (shape[1] if len(shape) > 1 else 1)
    if work > SMALL_BLAS_WORK:
        return nullcontext()
    # The graph module keeps the process-wide, reference-counted limiter.
    from ..graph._graph import _one_blas_thread

    return _one_blas_thread()
