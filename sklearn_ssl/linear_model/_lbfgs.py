"""L-BFGS that keeps its curvature pairs from one solve to the next.

EntropyRegularizedLogisticRegression solves a sequence of problems (deterministic
annealing), each warm-started from the last; scipy's L-BFGS-B cannot be given the
curvature pairs of the previous solve, so the annealing stages use this one
(Nocedal & Wright 2006, Algorithm 7.4, with scipy's line search and stopping rules).
"""

import warnings

import numpy as np
import scipy.optimize
from scipy.optimize import OptimizeResult

# Curvature pairs kept by L-BFGS through the annealing stages (_lbfgs): up to 50, which
# on ill-conditioned problems (raw pixels) takes far fewer iterations than scipy's 10,
# within 256 MiB (two float64 vectors of n_params per pair), and never fewer than 10.
_LBFGS_MEMORY = 50
_LBFGS_MEMORY_BYTES = 2**28
# scipy's settings, as in LogisticRegression: ftol stops on a relative decrease of the
# objective at the limit of float64 precision.
_FTOL = 64 * np.finfo(float).eps
_MAXLS = 50
_LINE_SEARCH_FAILED = "The line search algorithm|Rounding errors prevent the line search"


class _LbfgsMemory:
    """Curvature pairs ``(s, y)`` of L-BFGS, kept from one solve to the next.

    ``s`` is a step in the parameters and ``y`` the change of the gradient along it.
    The annealing stages minimise objectives that differ only by the weight of the
    unlabelled terms, so the curvature measured in one stage is a good start for the
    next: without it, every stage would begin with a steepest-descent step and rebuild
    its picture of the Hessian from scratch.
    """

    def __init__(self, size):
        self.size = size
        self.s, self.y, self.rho = [], [], []

    def add(self, s, y):
        """Keep the pair when it has positive curvature (``s.y > 0``), as BFGS needs."""
        sy = s @ y
        if sy > np.finfo(float).eps * (y @ y):
            self.s.append(s)
            self.y.append(y)
            self.rho.append(1.0 / sy)
            if len(self.s) > self.size:
                del self.s[0], self.y[0], self.rho[0]

    def clear(self):
        self.s.clear()
        self.y.clear()
        self.rho.clear()

    def direction(self, g):
        """``-H g`` by the two-loop recursion (Nocedal & Wright, 2006, Algorithm 7.4).

        With no pair, ``-g`` scaled to unit length, the first step of scipy's L-BFGS-B.
        """
        if not self.s:
            return -g / max(np.linalg.norm(g), np.finfo(float).tiny)
        q = g.copy()
        rho = self.rho
        alpha = np.empty(len(self.s))
        for i in reversed(range(len(self.s))):
            alpha[i] = rho[i] * (self.s[i] @ q)
            q -= alpha[i] * self.y[i]
        # H0 = gamma I, gamma = s.y / y.y of the newest pair (Nocedal & Wright, 2006, eq. 7.20).
        q /= rho[-1] * (self.y[-1] @ self.y[-1])
        for i in range(len(self.s)):
            q += (alpha[i] - rho[i] * (self.y[i] @ q)) * self.s[i]
        return -q


def _pairs_oldest_first(hess_inv, iterates):
    """The curvature pairs of scipy's L-BFGS-B result, oldest first.

    scipy returns them as stored in its ring buffer: once there were more updates
    than pairs kept, the newest pairs wrap around to the front. Each stored step
    ``s`` is matched with the step between two recorded iterates to order them
    (pairs that match no recorded step keep their stored order, after the others).
    """
    n = hess_inv.n_corrs
    sk, yk = hess_inv.sk[:n], hess_inv.yk[:n]
    steps = np.diff(np.asarray(iterates), axis=0)
    if steps.shape[0] == 0:
        return list(zip(sk, yk, strict=True))
    scale = np.maximum(np.abs(steps).max(axis=1), np.finfo(np.float64).tiny)
    when = []
    for j, s in enumerate(sk):
        err = np.abs(steps - s).max(axis=1) / scale
        k = int(np.argmin(err))
        when.append((k if err[k] < 1e-8 else steps.shape[0] + j, j))
    return [(sk[j], yk[j]) for _, j in sorted(when)]


def _lbfgs(fun, x, memory, *, max_iter, tol):
    """Minimise ``fun`` by L-BFGS from ``x``, starting with the pairs in ``memory``.

    The stopping rules are those of scipy's L-BFGS-B as LogisticRegression sets it:
    the largest gradient entry at most ``tol``, or a relative decrease of the
    objective of at most ``_FTOL``, or ``max_iter`` iterations. Steps satisfy the strong
    Wolfe conditions (scipy's ``line_search``).

    Parameters
    ----------
    fun : callable
        ``fun(x)`` returns the objective and its gradient.
    x : ndarray of shape (n_params,)
        Starting point.
    memory : _LbfgsMemory
        Curvature pairs to start from; receives the new ones.
    max_iter : int
        Maximum number of iterations.
    tol : float
        Gradient tolerance.

    Returns
    -------
    result : OptimizeResult
        ``x``, ``fun``, ``jac``, ``nit``, ``nfev``, ``message`` and ``success`` (false
        when ``max_iter`` is reached or no step satisfies the line search).
    """
    last = {}

    def value_and_grad(z):
        # The line search asks for the value and the gradient at the same point in
        # two calls; evaluate once.
        if last.get("z") is None or not np.array_equal(last["z"], z):
            last["z"], last["fg"] = z, fun(z)
            last["nfev"] = last.get("nfev", 0) + 1
        return last["fg"]

    f, g = value_and_grad(x)
    nit, success, message = 0, True, "gradient below tol"
    while np.abs(g).max() > tol:
        if nit >= max_iter:
            success, message = False, "max_iter reached"
            break
        d = memory.direction(g)
        with warnings.catch_warnings():
            # A failed line search is handled below (scipy's LineSearchWarning is private).
            warnings.filterwarnings("ignore", _LINE_SEARCH_FAILED, RuntimeWarning)
            step = scipy.optimize.line_search(
                lambda z: value_and_grad(z)[0],
                lambda z: value_and_grad(z)[1],
                x,
                d,
                gfk=g,
                old_fval=f,
                maxiter=_MAXLS,
            )[0]
        if step is None:
            if memory.s:
                # Stale curvature (from an earlier stage or a non-convex region): retry
                # from a steepest-descent step, as scipy's L-BFGS-B does.
                memory.clear()
                continue
            success, message = False, "line search failed"
            break
        x_new = x + step * d
        f_new, g_new = value_and_grad(x_new)
        memory.add(x_new - x, g_new - g)
        nit += 1
        decrease = f - f_new
        x, f, g = x_new, f_new, g_new
        if decrease <= _FTOL * max(abs(f), abs(f + decrease), 1.0):
            message = "relative decrease of the objective below ftol"
            break
    return OptimizeResult(
        x=x, fun=f, jac=g, nit=nit, nfev=last["nfev"], success=success, message=message
    )
