"""Lee (2013) pseudo-labels with the ramped weight alpha(t)."""

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from torch.nn import functional as F

from ._base import BaseSemiSupervisedNet
from ._callbacks import lee_alpha


class PseudoLabelClassifier(BaseSemiSupervisedNet):
    """Lee's pseudo-labels: the network's own argmax on unlabelled rows is a target.

    At every step the unlabelled rows of the batch get the class of highest
    predicted probability (recomputed each step, no gradient through it) and
    contribute a cross-entropy weighted by ``alpha(t)`` (Lee 2013, eq. 15-16):
    ``L = L_s + alpha(t) L_u`` with ``alpha(t) = 0`` for ``t < T1``,
    ``alpha_f (t - T1) / (T2 - T1)`` for ``T1 <= t < T2`` and ``alpha_f`` after.
    ``t`` counts optimisation steps (``schedule_unit="step"``) or epochs
    (``"epoch"``, fractional within an epoch). Lee (2013) uses ``T1=100``,
    ``T2=600`` and ``alpha_f=3``; here ``T1`` and ``T2`` are by default
    fractions of the training length, so a fit of any length reaches
    ``alpha_f``. While ``alpha(t) = 0`` the unlabelled rows are not even passed
    through the network.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        Network returning logits; ``None`` builds an MLP for 2-d ``X`` and the
        seed-000 CNN for 4-d images (see :class:`FixMatchClassifier`).
    hidden_layer_sizes : tuple of int, default=(100,)
        Hidden layers of the default MLP.
    criterion : torch loss class, default=torch.nn.CrossEntropyLoss
        Supervised loss.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Optimizer (the seed uses SGD with ``lr=0.1``).
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int or None, default=None
        Training length in epochs of one pass over the larger of the labelled
        and unlabelled pools; ``None``: ``max_steps`` steps.
    max_steps : int, default=2000
        Training length in optimiser steps when ``max_epochs=None``, whatever
        the size of the data (see :class:`FixMatchClassifier`).
    batch_size : int, default=64
        Labelled rows per step.
    mu : float, default=7
        Unlabelled rows per labelled row in a step
        (``round(mu * batch_size)``, at least 1 when ``mu > 0``).
    max_unlabeled_weight : float, default=3.0
        ``alpha_f``.
    rampup_start : int or float, default=0.1
        ``T1``: the unlabelled loss is off before it. A float in [0, 1] is that
        fraction of the training length of one call (``max_steps``, or
        ``max_epochs`` passes); an int counts steps or epochs
        (``schedule_unit``), whatever the training length.
    rampup_end : int or float, default=0.4
        ``T2``: the weight reaches ``alpha_f`` there. Must be ``>= T1`` and of
        the same kind (both ints or both floats; ``T1=0`` goes with either).
    schedule_unit : {"step", "epoch"}, default="step"
        Unit of ``t``, and of ``T1`` and ``T2`` when they are ints.
    weak_augmentation : callable, "auto" or None, default=None
        Lee's method uses no augmentation (dropout is its noise); ``"auto"``
        applies the defaults of :class:`FixMatchClassifier`'s weak view.
    train_split, callbacks, warm_start, verbose, device, batchnorm_recalibration, \
random_state, **kwargs
        As in :class:`FixMatchClassifier`.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Labels seen in ``y`` (never ``-1``).
    n_features_in_ : int
        Columns of ``X`` (channels for images).
    input_shape_ : tuple of int
        Shape of one row of ``X``.
    module_ : torch.nn.Module
        The trained network.
    history_ : skorch.history.History
        Per epoch: ``train_loss``, ``sup_loss``, ``unsup_loss``, ``unsup_weight``
        (mean ``alpha(t)``), ``mask_rate`` (the fraction of steps that used
        pseudo-labels: 0 before ``T1``, 1 from the first epoch entirely after it),
        ``pseudo_label_hist``, ``dur``.
    label_distribution_ : ndarray of shape (n_classes,)
        Class frequencies of the labelled rows trained on (of ``fit``'s ``y``, or
        of every ``partial_fit`` call's so far; without a ``train_split``
        validation part).
    n_steps_ : int
        Training steps done, over every ``fit`` or ``partial_fit`` call of the
        training run.
    steps_per_epoch_ : int
        Steps in an epoch of the last call (see ``max_steps``).
    class_share_ratio_ : float in [0, 1]
        Smallest ratio of a class's share among the predicted classes of the
        unlabelled training rows (after ``fit``) to its share among the
        labelled rows; below 0.25, fit warns with
        :class:`~sklearn_ssl.exceptions.ClassShareDriftWarning` (see
        :class:`FixMatchClassifier`).

    See Also
    --------
    FixMatchClassifier : Confidence-thresholded pseudo-labels across augmentations.
    MeanTeacherClassifier : Consistency with an EMA teacher.
    sklearn_ssl.SelfTrainingWrapper : Pseudo-labelling around any scikit-learn classifier.

    References
    ----------
    D.-H. Lee, "Pseudo-Label: The Simple and Efficient Semi-Supervised Learning
    Method for Deep Neural Networks", ICML 2013 Workshop on Challenges in
    Representation Learning.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from sklearn_ssl.datasets import hide_labels
    >>> from sklearn_ssl.neural import PseudoLabelClassifier
    >>> X, y = make_moons(n_samples=200, noise=0.1, random_state=0)
    >>> y_ssl = hide_labels(y, n_per_class=5, random_state=0)
    >>> clf = PseudoLabelClassifier(max_steps=100, batch_size=16, random_state=0)
    >>> clf.fit(X, y_ssl).predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints = {
        **BaseSemiSupervisedNet._parameter_constraints,
        "max_unlabeled_weight": [Interval(Real, 0, None, closed="left")],
        "rampup_start": [
            Interval(Integral, 0, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="both"),
        ],
        "rampup_end": [
            Interval(Integral, 0, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="both"),
        ],
        "schedule_unit": [StrOptions({"step", "epoch"})],
    }

    def __init__(
        self,
        module=None,
        *,
        hidden_layer_sizes=(100,),
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.AdamW,
        lr=1e-3,
        max_epochs=None,
        max_steps=2000,
        batch_size=64,
        mu=7,
        max_unlabeled_weight=3.0,
        rampup_start=0.1,
        rampup_end=0.4,
        schedule_unit="step",
        weak_augmentation=None,
        train_split=None,
        callbacks=None,
        warm_start=False,
        verbose=None,
        device="cpu",
        batchnorm_recalibration=10000,
        random_state=None,
        **kwargs,
    ):
        super().__init__(
            module,
            hidden_layer_sizes=hidden_layer_sizes,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            max_steps=max_steps,
            batch_size=batch_size,
            mu=mu,
            weak_augmentation=weak_augmentation,
            train_split=train_split,
            callbacks=callbacks,
            warm_start=warm_start,
            verbose=verbose,
            device=device,
            batchnorm_recalibration=batchnorm_recalibration,
            random_state=random_state,
            **kwargs,
        )
        vars(self).update(
            max_unlabeled_weight=max_unlabeled_weight,
            rampup_start=rampup_start,
            rampup_end=rampup_end,
            schedule_unit=schedule_unit,
        )

    def _validate_params(self):
        super()._validate_params()
        start, end = self.rampup_start, self.rampup_end
        if start != 0 and isinstance(start, Integral) != isinstance(end, Integral):
            raise ValueError(
                f"rampup_start={start!r} and rampup_end={end!r} must both be counts of "
                "steps or epochs (ints) or both fractions of the training length (floats "
                "in [0, 1])."
            )
        if end < start:
            raise ValueError(
                f"rampup_end (T2={self.rampup_end}) must not be smaller than rampup_start "
                f"(T1={self.rampup_start})."
            )

    def unlabeled_weight_at(self, t):
        """``alpha(t)`` of Lee (2013), eq. 16."""
        t1, t2 = self._schedule_point(self.rampup_start), self._schedule_point(self.rampup_end)
        return lee_alpha(t, t1, t2, self.max_unlabeled_weight)

    def semi_supervised_step(self, x_labeled, y_labeled, x_unlabeled, **fit_params):
        n_labeled = len(x_labeled)
        alpha = self.unlabeled_weight_at(self._schedule_time())
        use_unlabeled = alpha > 0 and len(x_unlabeled) > 0
        inputs = torch.cat([x_labeled, x_unlabeled]) if use_unlabeled else x_labeled
        logits = self.infer(self._augment(self.weak_augmentation_, inputs), **fit_params)
        logits_labeled = logits[:n_labeled]
        step = {
            "y_pred": logits_labeled,
            "sup_loss": self.get_loss(logits_labeled, y_labeled, training=True),
            "unsup_weight": alpha,
        }
        if not use_unlabeled:  # before T1: no pseudo-label is used
            step["unsup_loss"] = logits.new_zeros(())
            if len(x_unlabeled):
                step["mask_rate"] = 0.0
                step["pseudo_label_counts"] = logits.new_zeros(len(self.classes_))
            return step
        logits_unlabeled = logits[n_labeled:]
        pseudo_labels = logits_unlabeled.argmax(dim=-1)  # integers: no gradient
        # Lee eq. 15: cross-entropy of the unlabelled rows with their pseudo-labels.
        step["unsup_loss"] = F.cross_entropy(logits_unlabeled, pseudo_labels)
        step["mask_rate"] = 1.0
        step["pseudo_label_counts"] = self._count_pseudo_labels(pseudo_labels)
        return step
