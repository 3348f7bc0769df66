"""FixMatch (Sohn et al. 2020) with hard or smooth confidence weights."""

from numbers import Real

import torch
from sklearn.utils._param_validation import Interval, StrOptions
from torch.nn import functional as F

from ._augment import default_augmentations
from ._base import BaseSemiSupervisedNet
from ._callbacks import EMAWeights


def confidence_weight(confidence, threshold, mode="hard", exponent=1.0):
    """Weight of each pseudo-label given the confidence ``max_c q_c`` of the weak view.

    ``mode="hard"`` is FixMatch's mask ``1[max q >= tau]`` (Sohn et al. 2020).
    ``mode="smooth"`` is Smooth Pseudo-Labeling (arXiv:2405.14313): the factor
    ``((p - tau) / (1 - tau)) ** exponent`` for ``p >= tau`` and 0 below, which rises
    continuously from 0 at ``tau`` to 1 at ``p = 1`` (exponent 1 linear, 2 quadratic,
    0.5 square root).

    Parameters
    ----------
    confidence : torch.Tensor of shape (n,)
        Highest class probability of each row.
    threshold : float
        ``tau``.
    mode : {"hard", "smooth"}, default="hard"
        Mask shape.
    exponent : float, default=1.0
        Shape of the smooth factor.

    Returns
    -------
    weight : torch.Tensor of shape (n,)
        Values in [0, 1].

    Examples
    --------
    >>> import torch
    >>> from sklearn_ssl.neural import confidence_weight
    >>> confidence = torch.tensor([0.9, 0.96, 1.0])
    >>> confidence_weight(confidence, 0.95).tolist()
    [0.0, 1.0, 1.0]
    >>> [round(w, 3) for w in confidence_weight(confidence, 0.95, mode="smooth").tolist()]
    [0.0, 0.2, 1.0]
    """
    if mode == "hard" or (mode == "smooth" and threshold >= 1):
        # (the smooth factor of tau = 1 is the hard mask: 1 at p = 1 only)
        return (confidence >= threshold).to(confidence.dtype)
    if mode != "smooth":
        raise ValueError(f"mode must be 'hard' or 'smooth'; got {mode!r}.")
    ramp = ((confidence - threshold) / (1.0 - threshold)).clamp(min=0.0, max=1.0)
    return ramp**exponent


class FixMatchClassifier(BaseSemiSupervisedNet):
    """FixMatch: pseudo-labels from a weak view train the network on a strong view.

    For each unlabelled row the network (without gradient) predicts on a weakly
    augmented view; where the highest probability reaches ``threshold`` its
    argmax becomes the target of a cross-entropy on a strongly augmented view:
    ``L = L_s + lambda_u * mean(w(max q) * CE(argmax q, f(A(u))))`` (Sohn et al. 2020).
    With ``threshold_mode="smooth"`` the hard mask ``w`` becomes the continuous
    factor of Smooth Pseudo-Labeling (arXiv:2405.14313). An exponential moving average of
    the weights predicts (``use_ema``). The network is a skorch
    :class:`~skorch.NeuralNetClassifier`: every skorch parameter
    (``optimizer__momentum``, ``module__dropout``, ``callbacks``...) works.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        Network returning logits. ``None`` builds an :class:`~sklearn_ssl.neural.MLP`
        for 2-d ``X`` and the seed-000 :class:`~sklearn_ssl.neural.SmallCNN` for
        4-d images ``(n, C, H, W)``, sized from the data. A class receives
        ``n_features``, ``n_classes``, ``in_channels`` and ``image_size`` from the
        data when its ``__init__`` takes them; an instance is copied at each fit.
    hidden_layer_sizes : tuple of int, default=(100,)
        Hidden layers of the default MLP (ignored otherwise).
    criterion : torch loss class, default=torch.nn.CrossEntropyLoss
        Supervised loss on labelled rows.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        FixMatch's recipe is SGD, ``lr=0.03``, ``optimizer__momentum=0.9``,
        ``optimizer__nesterov=True``, ``optimizer__weight_decay=5e-4``.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int or None, default=None
        Training length in epochs of one pass each over the larger of the
        labelled pool (in batches of ``batch_size``) and the unlabelled pool (in
        batches of ``mu * batch_size``), the other pool being cycled; the number
        of steps then grows and shrinks with the data. ``None``: the training
        length is ``max_steps``.
    max_steps : int, default=2000
        Training length in optimiser steps, used when ``max_epochs=None``: each
        ``fit`` runs ``max_steps`` steps whatever the size of the data (batches
        are drawn from reshuffled passes over each pool, as many as needed). The
        history then has an epoch every ``ceil(max_steps / 20)`` steps (20
        epochs, the last one possibly shorter), a unit of logging and of
        callbacks such as ``EarlyStopping``, not a pass over the data. Each
        ``partial_fit`` (or ``warm_start`` fit) call runs ``max_steps`` more.
    batch_size : int, default=64
        Labelled rows per step (drawn again when there are fewer labelled rows).
    mu : float, default=7
        Unlabelled rows per labelled row in a step
        (``round(mu * batch_size)``, at least 1 when ``mu > 0``). ``mu=0`` trains on the
        labelled rows only (a supervised baseline with the same augmentations).
    threshold : float, default=0.95
        Confidence threshold ``tau`` in [0, 1] (below 1 for the smooth mode).
    threshold_mode : {"hard", "smooth"}, default="hard"
        Hard mask or smooth factor, see :func:`confidence_weight`.
    smooth_exponent : float, default=1.0
        Shape of the smooth factor: 1 linear, 2 quadratic, 0.5 square root.
    unlabeled_weight : float, default=1.0
        ``lambda_u``, the weight of the unlabelled loss.
    distribution_alignment : bool, default=False
        Rescale the weak-view probabilities by ``p(y) / p~(y)`` and renormalise
        (ReMixMatch, Weng 2021), where ``p(y)`` is the class distribution of the
        labelled rows and ``p~(y)`` a running mean (momentum 0.99) of the
        predictions on unlabelled rows.
    use_ema : bool, default=True
        Predict with an exponential moving average of the weights.
    ema_decay : float, default=0.999
        EMA decay ``d``; during the first steps the decay used is
        ``min(d, (1 + t) / (10 + t))`` so that a short training is not dominated
        by the initial weights.
    weak_augmentation : callable, "auto" or None, default="auto"
        Tensor batch -> tensor batch of the same size, applied on the device to
        labelled and unlabelled rows. ``"auto"``: :class:`~sklearn_ssl.neural.FlipShift`
        for images, :class:`~sklearn_ssl.neural.GaussianNoise` (0.05 std) for
        tabular ``X``. ``None``: no augmentation.
    strong_augmentation : callable, "auto" or None, default="auto"
        Applied to unlabelled rows for the consistency target. ``"auto"``:
        :class:`~sklearn_ssl.neural.RandAugmentCutout` for images,
        :class:`~sklearn_ssl.neural.GaussianNoise` (0.2 std) for tabular ``X``
        (chosen on the benchmark suite's tables over
        :class:`~sklearn_ssl.neural.FeatureCorruption`, which moves rows of
        low-dimensional tables into other classes' regions).
    train_split : callable or None, default=None
        skorch's internal validation split (e.g. ``skorch.dataset.ValidSplit(5)``);
        ``valid_loss`` and ``valid_acc`` are computed on its labelled rows.
    callbacks : list of (name, callback) or None, default=None
        Extra skorch callbacks.
    warm_start : bool, default=False
        Keep training the fitted network on the next ``fit``.
    verbose : int or None, default=None
        ``None``: one progress line on stderr (steps done, time spent and left),
        rewritten in place, for fits that train longer than 5 seconds, and only
        when stderr is an interactive terminal (see
        :class:`~sklearn_ssl.neural.ProgressLine`); nothing in logs, pipes or
        notebooks. 0: silent. 1: skorch's table of the history, one line per
        epoch on stdout (plain text when stdout is not a terminal). 2: also a
        progress bar per epoch (needs tqdm).
    device : str or torch.device, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``... A net trained on a GPU unpickles
        on a CPU-only machine.
    batchnorm_recalibration : int, default=10000
        After training, the BatchNorm statistics of the student and of the
        averaged network are recomputed on up to this many training rows,
        without augmentation (0 keeps the running statistics of training).
        Training batches mix plain and strongly augmented rows and the EMA
        network carries the student's statistics, so the running statistics
        do not match plain test rows; after a short training they can cost
        most of the accuracy (a WideResNet-10-1, 284 FixMatch steps on 8,000
        MNIST images with 100 labels: 21% test accuracy with the running
        statistics, 88% with recomputed ones). No effect on networks without
        BatchNorm (the default MLP and CNN).
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batches, dropout and augmentations. Later
        ``partial_fit`` (or ``warm_start``) calls continue from where the previous
        call left the random stream, so each call draws new batches.
    **kwargs : dict
        skorch's double-underscore parameters (``module__*``, ``optimizer__*``,
        ``callbacks__*``...).

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
    ema_module_ : torch.nn.Module
        The weight average used for prediction (with ``use_ema=True``).
    history_ : skorch.history.History
        Per epoch: ``train_loss``, ``sup_loss``, ``unsup_loss``, ``unsup_weight``,
        ``mask_rate`` (fraction of unlabelled rows whose confidence reaches
        ``threshold``), ``pseudo_label_hist`` (pseudo-labels per class among the
        rows with a non-zero weight, summed over the epoch), ``dur``.
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
        unlabelled training rows (one inference pass after ``fit``) to its
        share among the labelled rows (1: the same shares; 0: a labelled class
        is never predicted). Below 0.25, fit warns with
        :class:`~sklearn_ssl.exceptions.ClassShareDriftWarning`: the usual sign
        of confirmation bias, the pseudo-labels drifting onto some classes.

    See Also
    --------
    MeanTeacherClassifier : Consistency with an EMA teacher.
    PseudoLabelClassifier : Lee's pseudo-labels with a ramped weight.
    sklearn_ssl.SelfTrainingWrapper : Self-training around any classifier.

    References
    ----------
    K. Sohn et al., "FixMatch: Simplifying Semi-Supervised Learning with Consistency
    and Confidence", NeurIPS 2020.

    "Smooth Pseudo-Labeling", arXiv:2405.14313.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from sklearn_ssl.datasets import hide_labels
    >>> from sklearn_ssl.neural import FixMatchClassifier
    >>> X, y = make_moons(n_samples=200, noise=0.1, random_state=0)
    >>> y_ssl = hide_labels(y, n_per_class=5, random_state=0)
    >>> clf = FixMatchClassifier(max_steps=100, batch_size=16, random_state=0)
    >>> clf.fit(X, y_ssl).predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints = {
        **BaseSemiSupervisedNet._parameter_constraints,
        "threshold": [Interval(Real, 0, 1, closed="both")],
        "threshold_mode": [StrOptions({"hard", "smooth"})],
        "smooth_exponent": [Interval(Real, 0, None, closed="neither")],
        "unlabeled_weight": [Interval(Real, 0, None, closed="left")],
        "distribution_alignment": ["boolean"],
        "use_ema": ["boolean"],
        "ema_decay": [Interval(Real, 0, 1, closed="both")],
        "strong_augmentation": [None, callable, StrOptions({"auto"})],
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
        threshold=0.95,
        threshold_mode="hard",
        smooth_exponent=1.0,
        unlabeled_weight=1.0,
        distribution_alignment=False,
        use_ema=True,
        ema_decay=0.999,
        weak_augmentation="auto",
        strong_augmentation="auto",
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
            threshold=threshold,
            threshold_mode=threshold_mode,
            smooth_exponent=smooth_exponent,
            unlabeled_weight=unlabeled_weight,
            distribution_alignment=distribution_alignment,
            use_ema=use_ema,
            ema_decay=ema_decay,
            strong_augmentation=strong_augmentation,
        )

    def _validate_params(self):
        super()._validate_params()
        if self.threshold_mode == "smooth" and self.threshold >= 1:
            raise ValueError(
                "threshold must be below 1 with threshold_mode='smooth' (the factor "
                f"divides by 1 - threshold); got threshold={self.threshold}."
            )

    def _method_callbacks(self):
        # Always listed (the callback skips a net without ``ema_module_``), so the
        # callbacks do not depend on parameter values.
        return [("ema", EMAWeights(target="ema_module"))]

    def _initialize_averaged_module(self):
        if self.use_ema:
            self._register_copy("ema_module")
        elif "ema_module_" in vars(self):
            # A refit with use_ema=False: the previous fit's copy must not be
            # averaged into (or predict, or be recalibrated) any more.
            del self.ema_module_

    def _prediction_module(self):
        ema = getattr(self, "ema_module_", None)
        return ema if self.use_ema and ema is not None else self.module_

    def get_ema_decay(self):
        """EMA decay for the current step: ``min(ema_decay, (1 + t) / (10 + t))``."""
        t = self.n_steps_
        return min(self.ema_decay, (1.0 + t) / (10.0 + t))

    def initialize(self):
        super().initialize()
        self.prediction_marginal_ = None
        return self

    def _resolve_augmentations(self):
        super()._resolve_augmentations()
        _, strong = default_augmentations(len(self.input_shape_) + 1)
        self.strong_augmentation_ = (
            strong if self.strong_augmentation == "auto" else self.strong_augmentation
        )

    def _align_distribution(self, probs):
        """Distribution alignment: ``Normalize(q * p(y) / p~(y))`` (Weng 2021, ReMixMatch)."""
        batch_mean = probs.mean(dim=0)
        if self.prediction_marginal_ is None:
            self.prediction_marginal_ = batch_mean
        else:
            marginal = self.prediction_marginal_.to(probs.device)
            self.prediction_marginal_ = 0.99 * marginal + 0.01 * batch_mean
        prior = torch.as_tensor(self.label_distribution_, dtype=probs.dtype, device=probs.device)
        aligned = probs * prior / self.prediction_marginal_.clamp_min(1e-6)
        total = aligned.sum(dim=1, keepdim=True)
        # A row whose probability sits on classes of prior 0 (no labelled row) has
        # nothing left to normalise (0 / 0 was NaN): it gets the prior itself, whose
        # confidence is low, so it is not pseudo-labelled as a class alignment removes.
        safe = aligned / torch.where(total > 0, total, torch.ones_like(total))
        return torch.where(total > 0, safe, prior.expand_as(probs))

    def _after_fit(self):
        if self.prediction_marginal_ is not None:
            self.prediction_marginal_ = self.prediction_marginal_.cpu()

    def semi_supervised_step(self, x_labeled, y_labeled, x_unlabeled, **fit_params):
        n_labeled, n_unlabeled = len(x_labeled), len(x_unlabeled)
        # One forward pass over [weak labelled, weak unlabelled, strong unlabelled],
        # as in Sohn et al.'s (2020) loop, so BatchNorm sees all views together.
        inputs = self._augment(self.weak_augmentation_, torch.cat([x_labeled, x_unlabeled]))
        if n_unlabeled:
            strong = self._augment(self.strong_augmentation_, x_unlabeled, "strong_augmentation")
            inputs = torch.cat([inputs, strong])
        logits = self.infer(inputs, **fit_params)
        logits_labeled = logits[:n_labeled]
        step = {
            "y_pred": logits_labeled,
            "sup_loss": self.get_loss(logits_labeled, y_labeled, training=True),
            "unsup_weight": float(self.unlabeled_weight),
        }
        if not n_unlabeled:
            step["unsup_loss"] = logits.new_zeros(())
            return step
        logits_weak = logits[n_labeled : n_labeled + n_unlabeled]
        logits_strong = logits[n_labeled + n_unlabeled :]
        with torch.no_grad():
            probs = torch.softmax(logits_weak, dim=-1)
            if self.distribution_alignment:
                probs = self._align_distribution(probs)
            confidence, pseudo_labels = probs.max(dim=-1)
            weight = confidence_weight(
                confidence, self.threshold, self.threshold_mode, self.smooth_exponent
            )
        # L_u = mean_b w(max q_b) CE(argmax q_b, f(A(u_b)))  (Sohn et al. 2020; arXiv:2405.14313)
        per_row = F.cross_entropy(logits_strong, pseudo_labels, reduction="none")
        step["unsup_loss"] = (per_row * weight).mean()
        if self.threshold_mode == "hard":
            mask = weight  # the hard weight is the mask itself: 4 us per step, not 9
        else:
            mask = (confidence >= self.threshold).to(weight.dtype)
        step["mask_rate"] = mask.mean()
        step["pseudo_label_counts"] = self._count_pseudo_labels(pseudo_labels, mask)
        return step
