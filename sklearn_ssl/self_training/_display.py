"""Plot how self-training went, from a fitted wrapper's ``history_``."""

import numpy as np
from sklearn.utils.validation import check_is_fitted


class SelfTrainingDisplay:
    """Visualise the pseudo-labelling iterations of a fitted :class:`SelfTrainingWrapper`.

    Build it with :meth:`from_estimator`; the plot shows the rows added per
    iteration (bars), the cumulative number of pseudo-labelled rows, and the
    mean confidence of the added rows, plus the validation accuracy when the
    wrapper was fitted with ``early_stopping=True``, or the accuracy on a test
    set given as ``scores``.

    Parameters
    ----------
    iterations : ndarray of shape (n_iter,)
        Iteration numbers.
    n_added : ndarray of shape (n_iter,)
        Rows pseudo-labelled in each iteration.
    n_pseudo_labeled : ndarray of shape (n_iter,)
        Cumulative pseudo-labelled rows after each iteration.
    mean_confidence : ndarray of shape (n_iter,)
        Mean top probability of the rows added in each iteration.
    scores : ndarray of shape (n_iter,) or None, default=None
        An accuracy per iteration (validation or test), plotted on its own axis.
    score_name : str, default="accuracy"
        Label of ``scores``.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes with the bars and counts.
    ax_score_ : matplotlib Axes or None
        Twin axes with the confidence and scores.
    figure_ : matplotlib Figure
        The figure.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_ssl import SelfTrainingWrapper
    >>> from sklearn_ssl.datasets import hide_labels
    >>> from sklearn_ssl.self_training import SelfTrainingDisplay
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SelfTrainingWrapper(sample_rate=0.2).fit(X, hide_labels(y, n_per_class=5,
    ...                                                                 random_state=0))
    >>> disp = SelfTrainingDisplay.from_estimator(clf)
    """

    def __init__(
        self,
        iterations,
        n_added,
        n_pseudo_labeled,
        mean_confidence,
        *,
        scores=None,
        score_name="accuracy",
    ):
        self.iterations = iterations
        self.n_added = n_added
        self.n_pseudo_labeled = n_pseudo_labeled
        self.mean_confidence = mean_confidence
        self.scores = scores
        self.score_name = score_name

    @classmethod
    def from_estimator(cls, estimator, *, scores=None, score_name=None, ax=None):
        """Plot the iterations of a fitted :class:`SelfTrainingWrapper`.

        Parameters
        ----------
        estimator : fitted SelfTrainingWrapper
        scores : array-like of shape (n_iter,), default=None
            An accuracy per iteration to plot instead of the validation score
            (for example test accuracy measured by the caller).
        score_name : str, default=None
            Label of the scores; "validation accuracy" or "accuracy".
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.

        Returns
        -------
        display : SelfTrainingDisplay
        """
        check_is_fitted(estimator, "history_")
        hist = estimator.history_
        it = np.array([h["iteration"] for h in hist], dtype=int)
        if scores is None and hist and all("validation_score" in h for h in hist):
            scores = np.array([h["validation_score"] for h in hist])
            score_name = score_name or "validation accuracy"
        disp = cls(
            it,
            np.array([h["n_added"] for h in hist]),
            np.array([h["n_pseudo_labeled"] for h in hist]),
            np.array([h["mean_confidence"] for h in hist]),
            scores=None if scores is None else np.asarray(scores, dtype=float),
            score_name=score_name or "accuracy",
        )
        return disp.plot(ax=ax)

    def plot(self, *, ax=None):
        """Draw the plot.

        Parameters
        ----------
        ax : matplotlib Axes, default=None

        Returns
        -------
        display : SelfTrainingDisplay
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "SelfTrainingDisplay needs matplotlib: pip install matplotlib"
            ) from exc
        if self.scores is not None and len(self.scores) != len(self.iterations):
            raise ValueError(
                f"scores has {len(self.scores)} values for {len(self.iterations)} iterations."
            )
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        ax.bar(self.iterations, self.n_added, color="C0", alpha=0.5, label="rows added")
        ax.plot(
            self.iterations,
            self.n_pseudo_labeled,
            "o-",
            color="C0",
            label="pseudo-labelled (cumulative)",
        )
        ax.set_xlabel("iteration")
        ax.set_ylabel("rows")
        twin = ax.twinx()
        twin.plot(
            self.iterations,
            self.mean_confidence,
            "s--",
            color="C1",
            label="mean confidence of added rows",
        )
        if self.scores is not None:
            twin.plot(self.iterations, self.scores, "^-", color="C2", label=self.score_name)
        twin.set_ylabel("confidence / accuracy")
        twin.set_ylim(0, 1.02)
        handles = ax.get_legend_handles_labels()
        handles_twin = twin.get_legend_handles_labels()
        ax.legend(
            handles[0] + handles_twin[0],
            handles[1] + handles_twin[1],
            loc="upper left",
            fontsize="small",
        )
        self.ax_ = ax
        self.ax_score_ = twin
        self.figure_ = ax.figure
        return self
