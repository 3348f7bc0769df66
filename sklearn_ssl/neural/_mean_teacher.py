"""Mean Teacher (Tarvainen and Valpola 2017)."""

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from torch.nn import functional as F

from ._base import BaseSemiSupervisedNet
from ._callbacks import EMAWeights, sigmoid_rampup


class MeanTeacherClassifier(BaseSemiSupervisedNet):
    """Mean Teacher: a student matches the predictions of its weight-averaged teacher.

    The teacher's weights are an exponential moving average of the student's,
    ``theta' <- beta theta' + (1 - beta) theta`` after every step (Weng 2021), with
    ``beta = ema_decay_rampup`` (0.99) during the ramp-up and ``ema_decay`` (0.999)
    after it. Student and teacher see independently noised copies of every row
    of the batch; the consistency cost is the mean squared error between their
    softmax outputs, weighted by ``w(t) = consistency_weight * exp(-5 (1 - t/T)^2)``
    for ``t < T = rampup_length`` (the sigmoid ramp-up of Tarvainen and Valpola
    2017) and ``consistency_weight`` after:
    ``L = L_s + w(t) MSE(softmax f_theta(x~), softmax f_theta'(x~'))``. By
    default ``T`` is a fraction of the training length, so a fit of any length
    ends at the full weight.
    The teacher is a registered skorch module (``teacher_module_``), so device
    moves, re-initialisation and pickling cover it; it makes the predictions.

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
        Optimizer.
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
    consistency_weight : float, default=10.0
        Largest weight of the consistency cost (MSE averaged over rows and classes).
    rampup_length : int or float, default=0.4
        Length ``T`` of the sigmoid ramp-up. A float in [0, 1] is that fraction
        of the training length of one call (``max_steps``, or ``max_epochs``
        passes), so that every fit completes its ramp; an int counts steps or
        epochs (``schedule_unit``), whatever the training length.
    schedule_unit : {"step", "epoch"}, default="step"
        Unit of ``t``, and of ``rampup_length`` when it is an int.
    ema_decay_rampup : float, default=0.99
        Teacher EMA decay during the ramp-up.
    ema_decay : float, default=0.999
        Teacher EMA decay after the ramp-up. During the very first steps the decay
        used is at most ``(1 + t) / (10 + t)``, so a short training is not
        dominated by the initial weights.
    weak_augmentation : callable, "auto" or None, default="auto"
        The input noise, drawn independently for student and teacher. ``"auto"``:
        :class:`~sklearn_ssl.neural.GaussianNoise` for tabular ``X``,
        :class:`~sklearn_ssl.neural.FlipShift` for images.
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
        The student.
    teacher_module_ : torch.nn.Module
        The teacher (EMA of the student), used for prediction.
    history_ : skorch.history.History
        Per epoch: ``train_loss``, ``sup_loss``, ``unsup_loss`` (consistency),
        ``unsup_weight``, ``pseudo_label_hist`` (teacher's argmax on unlabelled
        rows), ``dur``.
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
        Smallest ratio of a class's share among the teacher's predicted classes
        on the unlabelled training rows (after ``fit``) to its share among the
        labelled rows; below 0.25, fit warns with
        :class:`~sklearn_ssl.exceptions.ClassShareDriftWarning` (see
        :class:`FixMatchClassifier`).

    See Also
    --------
    FixMatchClassifier : Confidence-thresholded pseudo-labels across augmentations.
    PseudoLabelClassifier : Lee's pseudo-labels with a ramped weight.

    References
    ----------
    A. Tarvainen and H. Valpola, "Mean teachers are better role models:
    Weight-averaged consistency targets improve semi-supervised deep learning
    results", NeurIPS 2017.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from sklearn_ssl.datasets import hide_labels
    >>> from sklearn_ssl.neural import MeanTeacherClassifier
    >>> X, y = make_moons(n_samples=200, noise=0.1, random_state=0)
    >>> y_ssl = hide_labels(y, n_per_class=5, random_state=0)
    >>> clf = MeanTeacherClassifier(max_steps=100, batch_size=16, random_state=0)
    >>> clf.fit(X, y_ssl).predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints = {
        **BaseSemiSupervisedNet._parameter_constraints,
        "consistency_weight": [Interval(Real, 0, None, closed="left")],
        "rampup_length": [
            Interval(Integral, 0, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="both"),
        ],
        "schedule_unit": [StrOptions({"step", "epoch"})],
        "ema_decay_rampup": [Interval(Real, 0, 1, closed="both")],
        "ema_decay": [Interval(Real, 0, 1, closed="both")],
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
        consistency_weight=10.0,
        rampup_length=0.4,
        schedule_unit="step",
        ema_decay_rampup=0.99,
        ema_decay=0.999,
        weak_augmentation="auto",
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
            consistency_weight=consistency_weight,
            rampup_length=rampup_length,
            schedule_unit=schedule_unit,
            ema_decay_rampup=ema_decay_rampup,
            ema_decay=ema_decay,
        )

    def _method_callbacks(self):
        return [("ema", EMAWeights(target="teacher_module"))]

    def _initialize_averaged_module(self):
        self._register_copy("teacher_module")

    def _prediction_module(self):
        return self.teacher_module_

    def get_ema_decay(self):
        """Teacher decay: ``ema_decay_rampup`` during the ramp-up, then ``ema_decay``."""
        t = self._schedule_time()
        decay = (
            self.ema_decay_rampup
            if t < self._schedule_point(self.rampup_length)
            else self.ema_decay
        )
        return min(decay, (1.0 + self.n_steps_) / (10.0 + self.n_steps_))

    def consistency_weight_at(self, t):
        """``w(t) = consistency_weight * exp(-5 (1 - t / T)^2)`` for ``t < T``."""
        length = self._schedule_point(self.rampup_length)
        return self.consistency_weight * sigmoid_rampup(t, length)

    def semi_supervised_step(self, x_labeled, y_labeled, x_unlabeled, **fit_params):
        n_labeled = len(x_labeled)
        inputs = torch.cat([x_labeled, x_unlabeled])
        student_inputs = self._augment(self.weak_augmentation_, inputs)
        teacher_inputs = self._augment(self.weak_augmentation_, inputs)
        if teacher_inputs.data_ptr() == student_inputs.data_ptr():
            # No augmentation (or one that returned its input): a module working on
            # its input in place would change the teacher's input and the autograd graph.
            teacher_inputs = teacher_inputs.clone()
        logits = self.infer(student_inputs, **fit_params)
        with torch.no_grad():
            teacher_logits = self.teacher_module_(teacher_inputs, **fit_params)
        logits_labeled = logits[:n_labeled]
        # Consistency on all rows (labelled ones included), as in Mean Teacher.
        consistency = F.mse_loss(
            torch.softmax(logits, dim=-1), torch.softmax(teacher_logits, dim=-1)
        )
        teacher_labels = teacher_logits[n_labeled:].argmax(dim=-1)
        return {
            "y_pred": logits_labeled,
            "sup_loss": self.get_loss(logits_labeled, y_labeled, training=True),
            "unsup_loss": consistency,
            "unsup_weight": self.consistency_weight_at(self._schedule_time()),
            "pseudo_label_counts": self._count_pseudo_labels(teacher_labels),
        }
