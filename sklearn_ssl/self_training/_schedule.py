"""Schedules for how many unlabelled rows are pseudo-labelled per iteration."""

import math
import numbers

import numpy as np


class RampSchedule:
    """Lee's ramp for the sample rate: zero until ``t1``, linear up to ``final_rate`` at ``t2``.

    Seed 000 weights the unlabelled loss with alpha(t) = 0 for t < T1,
    (t - T1) / (T2 - T1) * alpha_f for T1 <= t < T2 and alpha_f after T2
    (Lee 2013), and suggests ramping ``sample_rate`` the same way. Here ``t`` is
    the self-training iteration (1, 2, ...) and the value is the rate of that
    iteration: a fraction of the initial unlabelled pool (float) or a row count
    (when ``final_rate`` is an int).

    Parameters
    ----------
    final_rate : float in (0, 1] or int >= 1, default=0.1
        Rate reached at iteration ``t2`` and kept afterwards.
    t1 : int, default=0
        Last iteration with rate zero (iterations with rate zero add nothing
        and do not refit).
    t2 : int, default=5
        Iteration from which the rate is ``final_rate``; must exceed ``t1``.

    Examples
    --------
    >>> from sklearn_ssl.self_training import RampSchedule
    >>> ramp = RampSchedule(0.1, t1=0, t2=4)
    >>> [round(ramp(t), 3) for t in range(1, 7)]
    [0.025, 0.05, 0.075, 0.1, 0.1, 0.1]
    """

    def __init__(self, final_rate=0.1, *, t1=0, t2=5):
        self.final_rate = final_rate
        self.t1 = t1
        self.t2 = t2

    def __call__(self, iteration):
        if not (isinstance(self.t1, numbers.Integral) and isinstance(self.t2, numbers.Integral)):
            raise ValueError(f"t1 and t2 must be integers, got t1={self.t1!r}, t2={self.t2!r}.")
        if not 0 <= self.t1 < self.t2:
            raise ValueError(f"RampSchedule needs 0 <= t1 < t2, got t1={self.t1}, t2={self.t2}.")
        rate = self.final_rate
        if isinstance(rate, bool | np.bool_) or not (
            (isinstance(rate, numbers.Integral) and rate >= 1)
            or (isinstance(rate, numbers.Real) and 0 < rate <= 1)
        ):
            raise ValueError(
                f"RampSchedule(final_rate={rate!r}) must be a fraction in (0, 1] of the "
                "unlabelled rows or a row count >= 1."
            )
        # Seed 000, alpha(t): 0 before T1, linear between T1 and T2, alpha_f after.
        frac = min(1.0, max(0.0, (iteration - self.t1) / (self.t2 - self.t1)))
        value = frac * self.final_rate
        if isinstance(self.final_rate, numbers.Integral):
            return int(math.floor(value))
        return float(value)

    def __repr__(self):
        return f"RampSchedule({self.final_rate!r}, t1={self.t1}, t2={self.t2})"

    def __eq__(self, other):
        return isinstance(other, RampSchedule) and (
            (self.final_rate, self.t1, self.t2) == (other.final_rate, other.t1, other.t2)
        )

    def __hash__(self):
        return hash((RampSchedule, self.final_rate, self.t1, self.t2))


def _rate_to_count(rate, n_pool, where):
    """Turn one rate value (fraction or count) into a number of rows."""
    if isinstance(rate, bool | np.bool_):
        raise ValueError(f"{where} returned a boolean ({rate!r}); return a float or an int.")
    if isinstance(rate, numbers.Integral):
        if rate < 0:
            raise ValueError(f"{where} returned a negative count ({rate}).")
        return int(rate)
    if isinstance(rate, numbers.Real):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(
                f"{where} returned {rate!r}; a float rate is a fraction of the unlabelled "
                "rows and must be in [0, 1]. Return an int for a row count."
            )
        # At least one row for any positive rate, so a small rate still progresses.
        return max(1, int(round(rate * n_pool))) if rate > 0 else 0
    raise ValueError(f"{where} returned {rate!r}; expected a float fraction or an int count.")


def check_sample_rate(sample_rate, n_unlabeled):
    """Turn every accepted form of ``sample_rate`` into one schedule.

    Parameters
    ----------
    sample_rate : float, int or callable
        A fraction of the initial unlabelled pool in (0, 1], a row count >= 1,
        or a callable ``sample_rate(iteration) -> float or int`` (iteration
        starts at 1), such as :class:`RampSchedule`.
    n_unlabeled : int
        Size of the initial unlabelled pool.

    Returns
    -------
    schedule : callable
        ``schedule(iteration) -> int``, the number of rows to pseudo-label at
        that iteration (before clipping to the rows still available).

    Examples
    --------
    >>> from sklearn_ssl.self_training import check_sample_rate
    >>> check_sample_rate(0.04, 1000)(1)
    40
    >>> check_sample_rate(25, 1000)(3)
    25
    """
    if isinstance(sample_rate, bool | np.bool_):  # an int to scikit-learn's validation
        raise ValueError(
            f"sample_rate={sample_rate!r} is a boolean; pass a fraction in (0, 1] of the "
            "unlabelled rows, a row count >= 1 or a callable schedule."
        )
    if callable(sample_rate):

        def schedule(iteration):
            return _rate_to_count(sample_rate(iteration), n_unlabeled, f"sample_rate({iteration})")

        return schedule
    count = _rate_to_count(sample_rate, n_unlabeled, "sample_rate")
    if count == 0 and n_unlabeled > 0:
        raise ValueError("sample_rate must be positive.")
    return lambda iteration: count
