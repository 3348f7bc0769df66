"""A skorch classifier that learns from ``y`` with ``-1`` for unlabelled rows.

:class:`BaseSemiSupervisedNet` keeps skorch's ``fit_loop`` and overrides only its
small steps:

* ``get_iterator`` -- each training batch holds ``batch_size`` labelled rows
  followed by ``mu * batch_size`` unlabelled rows (``y == -1``), drawn from
  reshuffled passes over each pool; the data sit on the device once per fit.
  With ``max_epochs=None`` an epoch is a fixed number of steps, so that a fit
  runs ``max_steps`` steps whatever the data size (``fit_loop`` is skorch's,
  given the number of epochs that makes).
* ``train_step_single`` -- splits the batch and asks the subclass hook
  :meth:`BaseSemiSupervisedNet.semi_supervised_step` for the supervised and the
  unsupervised loss; the total is ``L_s + w(t) L_u`` (Weng 2021).
* ``get_loss`` -- the supervised loss on labelled rows only.
* ``infer`` -- in evaluation mode, predicts with the averaged (EMA / teacher)
  network when the method keeps one.

Labels of any type are encoded to ``0..n_classes-1`` in ``fit``; ``classes_``
never holds the marker.
"""

import copy
import inspect
import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_parameter_constraints
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, EarlyStopping, EpochTimer, PassthroughScoring
from skorch.dataset import Dataset, unpack_data
from skorch.utils import to_tensor
from torch.optim.swa_utils import update_bn
from torch.utils.data import DataLoader

from ..base import BaseSemiSupervisedClassifier
from ..utils._class_shares import check_class_shares
from ..utils._labels import (
    UNLABELED,
    _as_array,
    _has_missing,
    check_labeled_targets,
    check_semi_supervised_y,
    is_labeled,
)
from ._augment import check_augmented, default_augmentations
from ._callbacks import HistoryTable, ProgressLine, SemiSupervisedLog
from ._modules import MLP, SmallCNN, WideResNet


def check_device(device):
    """Return ``device`` if torch can use it, else raise a ValueError saying what to do."""
    if device is None:
        return device
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a device torch understands: {exc}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but torch cannot use a CUDA GPU here "
            "(torch.cuda.is_available() is False). Pass device='cpu', or run on a machine "
            "with a GPU and a CUDA build of torch."
        )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r} was requested but MPS is not available.")
    return device


class _Cycler:
    """Hand out indices from successive random permutations of a pool."""

    def __init__(self, indices):
        self.indices = indices
        self.buffer = indices[:0]
        self.position = 0

    def take(self, k):
        start = self.position
        if start + k <= len(self.buffer):  # the usual case: one view, no copy
            self.position = start + k
            return self.buffer[start : start + k]
        pieces, have = [], 0
        while have < k:
            if self.position >= len(self.buffer):
                self.buffer = self.indices[torch.randperm(len(self.indices))]
                self.position = 0
            piece = self.buffer[self.position : self.position + k - have]
            self.position += len(piece)
            pieces.append(piece)
            have += len(piece)
        return torch.cat(pieces) if pieces else self.indices[:0]


def _labeled_prefix(y):
    """Number of labelled rows in ``y`` and whether they all come first."""
    if isinstance(y, torch.Tensor) and y.device.type != "cpu":
        labeled = y != UNLABELED
        n_labeled = int(labeled.sum())
        return n_labeled, bool(labeled[:n_labeled].all())
    # NumPy on a CPU batch: 3.5 us per step, against 8 us for the same in torch.
    labeled = (y.numpy() if isinstance(y, torch.Tensor) else np.asarray(y)) != UNLABELED
    n_labeled = int(np.count_nonzero(labeled))
    return n_labeled, bool(labeled[:n_labeled].all())


EPOCHS_PER_FIT = 20
"""With ``max_epochs=None``, a fit's ``max_steps`` steps are split into epochs of
``ceil(max_steps / EPOCHS_PER_FIT)`` steps (the last one may be shorter)."""


def _epoch_length(max_steps):
    """Steps in each epoch of a fit of ``max_steps`` steps (``max_epochs=None``)."""
    return max(1, math.ceil(max_steps / EPOCHS_PER_FIT))


class _SemiSupervisedBatches:
    """Training iterator: ``batch_size`` labelled rows, then ``mu * batch_size`` unlabelled.

    Rows come from reshuffled passes over each pool, continued from one epoch to
    the next. With ``max_steps=None`` an epoch is one pass over the larger of the
    two pools, i.e. ``ceil(max(n_labeled / B, n_unlabeled / max(1, round(mu B))))``
    steps; otherwise the iterator hands out ``max_steps`` steps in all, in epochs
    of :func:`_epoch_length` steps, whatever the size of the pools (an epoch
    asked for beyond them has the same length). ``X`` lives on the training
    device; ``y`` stays on the CPU so that splitting a batch needs no host-device
    synchronisation.
    """

    def __init__(self, X, y, batch_size, mu, device, max_steps=None):
        self.X = X
        self.y = y
        labeled = y != UNLABELED
        self.labeled = torch.nonzero(labeled).flatten()
        self.unlabeled = torch.nonzero(~labeled).flatten()
        if not len(self.labeled):
            raise ValueError(
                "The training part of the data holds no labelled row (train_split put "
                "every labelled row in the validation part?). Use a split that keeps "
                "labelled rows for training, e.g. train_split=ValidSplit(5, stratified=True) "
                "after shuffling the rows, or train_split=None."
            )
        self.n_labeled_batch = batch_size
        # mu > 0 asks for unlabelled rows: at least one per step, however small mu * B.
        n_unlabeled_batch = max(1, int(round(mu * batch_size))) if mu > 0 else 0
        self.n_unlabeled_batch = n_unlabeled_batch if len(self.unlabeled) else 0
        steps = math.ceil(len(self.labeled) / batch_size)
        if self.n_unlabeled_batch:
            steps = max(steps, math.ceil(len(self.unlabeled) / self.n_unlabeled_batch))
        self.steps_per_epoch = steps if max_steps is None else _epoch_length(max_steps)
        self.steps_left = max_steps
        self.device = device
        self._labeled, self._unlabeled = _Cycler(self.labeled), _Cycler(self.unlabeled)

    def __len__(self):
        if self.steps_left:
            return min(self.steps_per_epoch, self.steps_left)
        return self.steps_per_epoch

    def __iter__(self):
        n_steps = len(self)
        if self.steps_left:
            self.steps_left -= n_steps
        for _ in range(n_steps):
            idx = torch.cat(
                [
                    self._labeled.take(self.n_labeled_batch),
                    self._unlabeled.take(self.n_unlabeled_batch),
                ]
            )
            # index_select: 4 us for 512 rows on a CPU, where X[idx] takes 11.
            yield self.X.index_select(0, idx.to(self.X.device, non_blocking=True)), self.y[idx]


class _Batches:
    """Evaluation iterator: consecutive slices, in order."""

    def __init__(self, X, y, batch_size):
        self.X, self.y, self.batch_size = X, y, batch_size

    def __len__(self):
        return math.ceil(len(self.X) / self.batch_size)

    def __iter__(self):
        for start in range(0, len(self.X), self.batch_size):
            stop = start + self.batch_size
            y = self.y[start:stop] if self.y is not None else torch.zeros(len(self.X[start:stop]))
            # A copy: float32 X shares memory with the caller's array, and a module
            # may work on its input in place (x /= 255, ReLU(inplace=True)).
            yield self.X[start:stop].clone(), y


def _unwrap_subsets(dataset):
    """The dataset under (possibly nested) Subsets, and the rows they select (or None)."""
    rows = None
    while isinstance(dataset, torch.utils.data.Subset):
        inner = np.asarray(dataset.indices)
        rows = inner if rows is None else inner[rows]
        dataset = dataset.dataset
    return dataset, rows


def _dataset_arrays(dataset):
    """``(X, y)`` tensors of a skorch Dataset or a Subset of one."""
    dataset, indices = _unwrap_subsets(dataset)
    if not isinstance(dataset, Dataset) or not isinstance(dataset.X, np.ndarray | torch.Tensor):
        raise TypeError(
            "Semi-supervised nets train on arrays: pass X as a numpy array or tensor "
            "(2-d tabular or 4-d images), not a torch Dataset."
        )
    X, y = dataset.X, dataset.y
    if indices is not None:
        X = X[indices]
        y = None if y is None else y[indices]
    X = torch.as_tensor(np.asarray(X, dtype=np.float32) if isinstance(X, np.ndarray) else X)
    y = None if y is None else torch.as_tensor(np.asarray(y, dtype=np.int64))
    return X, y


def _from_tensor(a):
    """A tensor (on any device) as a NumPy array; anything else unchanged."""
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a


def _dataset_targets(dataset):
    """The targets of a skorch Dataset or a Subset of one, as int64 (no copy of X)."""
    dataset, rows = _unwrap_subsets(dataset)
    y = getattr(dataset, "y", None)
    if y is None:
        return None
    y = np.asarray(_from_tensor(y))
    return np.asarray(y if rows is None else y[rows], dtype=np.int64)


def _fill_from_data(module_cls, kwargs, input_shape, n_classes):
    """Pass ``n_features``/``n_classes``/``in_channels``/``image_size`` a module class asks for."""
    try:
        names = set(inspect.signature(module_cls).parameters)
    except (TypeError, ValueError):
        return kwargs
    known = {"n_classes": n_classes, "n_features": int(np.prod(input_shape))}
    if len(input_shape) == 3:
        known["in_channels"] = input_shape[0]
        known["image_size"] = tuple(input_shape[1:])
    return {**{k: v for k, v in known.items() if k in names}, **kwargs}


class BaseSemiSupervisedNet(BaseSemiSupervisedClassifier, NeuralNetClassifier):
    """Base of the neural semi-supervised classifiers. Subclasses write one hook,
    :meth:`semi_supervised_step`, and may keep an averaged network for prediction.

    Not meant to be used directly; see :class:`FixMatchClassifier`,
    :class:`MeanTeacherClassifier` and :class:`PseudoLabelClassifier`.
    """

    # skorch settings that are fixed here rather than parameters.
    iterator_train = DataLoader
    iterator_valid = DataLoader
    dataset = Dataset
    predict_nonlinearity = "auto"
    compile = False
    use_caching = "auto"
    torch_load_kwargs = None
    initialized_ = False
    history_ = None
    virtual_params_ = {}  # replaced by a fresh dict in initialize()

    _parameter_constraints = {
        "module": [None, callable],
        "hidden_layer_sizes": [tuple, list],
        "criterion": [callable],
        "optimizer": [callable],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [None, Interval(Integral, 0, None, closed="left")],
        "max_steps": [Interval(Integral, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "mu": [Interval(Real, 0, None, closed="left")],
        "weak_augmentation": [None, callable, StrOptions({"auto"})],
        "train_split": [None, callable],
        "callbacks": [None, list, StrOptions({"disable"})],
        "warm_start": ["boolean"],
        "verbose": [None, "verbose"],
        "device": [None, str, torch.device],
        "batchnorm_recalibration": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
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
        # Assigned through vars() so that skorch's __setattr__, which refuses torch
        # modules outside initialize(), accepts a module instance as a parameter.
        params = dict(
            module=module,
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
        )
        vars(self).update(params)
        # skorch's dunder parameters (module__*, optimizer__*, callbacks__*, ...).
        vars(self)["_params_to_validate"] = set(kwargs)
        vars(self).update(kwargs)

    # ------------------------------------------------------------ fitted attributes

    @property
    def classes_(self):
        try:
            return vars(self)["classes_"]
        except KeyError:
            raise AttributeError(
                f"{type(self).__name__} has no attribute 'classes_'; call fit first."
            ) from None

    @classes_.setter
    def classes_(self, value):
        vars(self)["classes_"] = value

    # ------------------------------------------------------------ parameters and set-up

    def _get_param_names(self):
        # skorch treats every attribute not ending in "_" as a parameter; private
        # bookkeeping (``_params_to_validate``, ``_modules``...) is not one.
        return [k for k in vars(self) if not k.endswith("_") and not k.startswith("_")]

    def set_params(self, **params):
        """Set parameters, including skorch's ``module__*``, ``callbacks__*``... ones.

        Returns
        -------
        self : object
            The estimator.
        """
        if "callbacks" in params and not self.initialized_:
            # Stored as given and checked at fit (skorch would set them up now).
            vars(self)["callbacks"] = params.pop("callbacks")
        return super().set_params(**params)

    def _validate_params(self):
        if "module" in self.prefixes_:
            # skorch's check of dunder arguments knows the modules once they exist;
            # initialize() runs it again then.
            NeuralNetClassifier._validate_params(self)
        validate_parameter_constraints(
            self._parameter_constraints,
            self.get_params(deep=False),
            caller_name=type(self).__name__,
        )
        unused = sorted(
            k
            for k, v in vars(self).items()
            if k.startswith(("iterator_train__", "iterator_valid__"))
            or (k in ("iterator_train", "iterator_valid") and v is not DataLoader)
        )
        if unused:
            raise ValueError(
                f"{type(self).__name__} draws its own batches (batch_size labelled rows and "
                f"mu times as many unlabelled ones), so {unused} would be ignored. Remove "
                "them; batch_size and mu set the batches."
            )
        check_device(self.device)

    @property
    def _default_callbacks(self):
        callbacks = [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            # SemiSupervisedLog records each validation batch's accuracy.
            ("valid_acc", PassthroughScoring(name="valid_acc", lower_is_better=False)),
            ("ssl_log", SemiSupervisedLog()),
            *self._method_callbacks(),
            ("print_log", HistoryTable(keys_ignored=["pseudo_label_hist"])),
            ("progress", ProgressLine()),  # verbose=None only
        ]
        if isinstance(self.verbose, Integral) and self.verbose > 1:
            try:
                import tqdm  # noqa: F401
                from skorch.callbacks import ProgressBar
            except ImportError:  # pragma: no cover - tqdm is optional
                pass
            else:
                callbacks.insert(-2, ("progress_bar", ProgressBar()))
        return callbacks

    def _method_callbacks(self):
        """Callbacks a method adds (weight averaging); none by default."""
        return []

    def _initialize_callbacks(self):
        # New callbacks_: notify must look its hooks up again (set_params(callbacks=...)
        # then fit_loop, which does not pass through _fit_validated).
        vars(self).pop("_callback_hook_cache", None)
        if not (isinstance(self.callbacks, str) and self.callbacks == "disable"):
            return super()._initialize_callbacks()
        # "disable" turns off logging and printing, not part of the method: the
        # weight average (EMA, Mean Teacher's teacher) is what predicts. Built as
        # skorch builds callbacks, so callbacks__ema__decay=... still applies.
        keep = {name for name, _ in self._method_callbacks()}
        vars(self)["callbacks"] = []
        try:
            self.initialize_callbacks()
        finally:
            vars(self)["callbacks"] = "disable"
        self.callbacks_ = [(name, cb) for name, cb in self.callbacks_ if name in keep]
        return self

    def initialize(self):
        super().initialize()
        self.n_steps_ = 0
        return self

    def notify(self, method_name, **cb_kwargs):
        """Call the hook ``method_name`` of the net and of the callbacks that define it.

        skorch calls it on every callback, though most inherit the no-op of
        :class:`skorch.callbacks.Callback`; a training step sends three
        notifications to seven receivers, and skipping the no-ops saves about 6 us
        per step (a tenth of our step's overhead over a plain loop, MLP on a CPU).
        The hooks are looked up when a fit starts: a hook set on a callback during
        training is called from the next ``fit`` or ``partial_fit`` on.
        """
        getattr(self, method_name)(self, **cb_kwargs)
        for hook in self._callback_hooks(method_name):
            hook(self, **cb_kwargs)
        if method_name in ("on_epoch_end", "on_train_end"):
            self._follow_load_best(method_name)

    def _follow_load_best(self, method_name):
        """Restore the averaged networks with the student when EarlyStopping does.

        ``EarlyStopping(load_best=True)`` keeps the student's (``module_``) weights
        of the best epoch and restores them at the end of training; the network
        that predicts (EMA, teacher) is kept and restored here alongside, so the
        restored model is the one whose validation score was best.
        """
        averaged = [name for name in self._modules if name != "module"]
        stoppers = [
            cb
            for _, cb in getattr(self, "callbacks_", [])
            if isinstance(cb, EarlyStopping) and cb.load_best
        ]
        if not averaged or not stoppers:
            return
        snapshots = vars(self).setdefault("_best_averaged", {})
        epoch = self.history[-1, "epoch"]
        for cb in stoppers:
            if getattr(cb, "best_model_weights_", None) is None:
                continue
            if method_name == "on_epoch_end" and cb.best_epoch_ == epoch:
                snapshots[id(cb)] = {
                    name: copy.deepcopy(getattr(self, name + "_").state_dict()) for name in averaged
                }
            elif method_name == "on_train_end" and cb.best_epoch_ != epoch:
                for name, state in snapshots.get(id(cb), {}).items():
                    getattr(self, name + "_").load_state_dict(state)
        if method_name == "on_train_end":
            vars(self).pop("_best_averaged", None)

    def _callback_hooks(self, method_name):
        cache = self.__dict__.setdefault("_callback_hook_cache", {})
        hooks = cache.get(method_name)
        if hooks is None:
            default = getattr(Callback, method_name, None)
            hooks = cache[method_name] = [
                getattr(cb, method_name)
                for _, cb in getattr(self, "callbacks_", [])
                if default is None
                or method_name in vars(cb)
                or getattr(type(cb), method_name, None) is not default
            ]
        return hooks

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_callback_hook_cache", None)  # bound methods of the callbacks
        for key in ("_best_averaged", "_train_rows", "_pending_counts", "_add_counts"):
            state.pop(key, None)
        return state

    def initialize_module(self):
        """Build ``module_``: the given module (copied, so refits start afresh),
        a class filled with the data's sizes, or the default network for ``X``."""
        if getattr(self, "input_shape_", None) is None:
            raise ValueError(
                f"{type(self).__name__} sizes its network from the training data: call "
                "fit(X, y) instead of initialize()."
            )
        kwargs = self.get_params_for("module")
        n_classes = len(self.classes_)
        module = self.module
        if module is None:
            if len(self.input_shape_) == 3:
                module = SmallCNN
            else:
                module = MLP
                kwargs = {"hidden_layer_sizes": tuple(self.hidden_layer_sizes), **kwargs}
        if isinstance(module, torch.nn.Module):
            module = copy.deepcopy(module) if not kwargs else type(module)
        if not isinstance(module, torch.nn.Module):
            kwargs = _fill_from_data(module, kwargs, self.input_shape_, n_classes)
            module = module(**kwargs)
        if not any(p.requires_grad for p in module.parameters()):
            raise ValueError(
                f"The module {type(module).__name__} has no trainable parameters (all frozen, "
                "or an empty network such as torch.nn.Sequential passed as a class): unfreeze "
                "some, or pass a class or instance that builds its layers."
            )
        self.module_ = module
        self._initialize_averaged_module()
        return self

    def _initialize_averaged_module(self):
        """Hook: register a weight-averaged copy of ``module_`` (EMA, teacher)."""

    def _register_copy(self, name):
        """Register a frozen copy of ``module_`` as the module ``<name>_``."""
        averaged = copy.deepcopy(self.module_)
        for param in averaged.parameters():
            param.requires_grad_(False)
        setattr(self, name + "_", averaged)

    def get_all_learnable_params(self):
        # Only the student learns; averaged copies follow it through callbacks.
        seen = set()
        for name in ["module", *self._criteria]:
            component = getattr(self, name + "_", None)
            if not isinstance(component, torch.nn.Module):
                continue
            for param_name, param in component.named_parameters():
                if param not in seen:
                    seen.add(param)
                    yield param_name, param

    def check_data(self, X, y=None):
        # fit already validated X and y.
        pass

    def on_epoch_begin(self, net, **kwargs):
        super().on_epoch_begin(net, **kwargs)  # skorch starts the epoch's history row
        self._commit_counts()

    def _commit_counts(self):
        pending = vars(self).pop("_pending_counts", None)
        if pending is not None:
            self._count_labels(pending, add=vars(self).pop("_add_counts", False))

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        # Where this call's epochs start (see _schedule_time).
        vars(self)["_epoch_origin"] = (len(self.history), self.n_steps_)
        self._resolve_augmentations()
        self._check_module_output(X)

    def _resolve_augmentations(self):
        weak, _ = default_augmentations(len(self.input_shape_) + 1)
        self.weak_augmentation_ = (
            weak if self.weak_augmentation == "auto" else self.weak_augmentation
        )

    def _check_module_output(self, X):
        """Run the module on two rows so a wrong input shape fails with a clear message."""
        probe = to_tensor(torch.tensor(np.asarray(X[:2])), device=self.device)  # a copy
        module = self.module_
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                out = module(probe)
        except RuntimeError as exc:
            dtypes = {p.dtype for p in module.parameters()} - {probe.dtype}
            if dtypes and "type" in str(exc).lower():  # float64 (or half) net, float32 rows
                raise ValueError(
                    f"The module's parameters are {sorted(map(str, dtypes))} but the rows "
                    f"are {probe.dtype} (X is converted to float32): build the module in "
                    f"float32 (module.float()). The error was: {exc}"
                ) from exc
            raise ValueError(
                f"The module cannot process inputs of shape {tuple(self.input_shape_)} (one "
                f"row of X): {exc}. Pass X of the shape the module expects, e.g. images as "
                "(n_samples, channels, height, width), or a module built for this shape."
            ) from exc
        finally:
            module.train(was_training)
        n_classes = len(self.classes_)
        if not (isinstance(out, torch.Tensor) and out.ndim == 2 and out.shape[1] == n_classes):
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(
                f"The module must return logits of shape (n_samples, n_classes) = "
                f"(n, {n_classes}) for the {n_classes} classes of y; it returned {got}."
            )

    # ------------------------------------------------------------ skorch steps

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """skorch's loop, for ``max_epochs`` epochs, or by default (``max_epochs=None``)
        for the epochs of ``ceil(max_steps / 20)`` steps that make up ``max_steps``."""
        if epochs is None and self.max_epochs is None:
            epochs = math.ceil(self.max_steps / _epoch_length(self.max_steps))
        return super().fit_loop(X, y, epochs, **fit_params)

    def get_iterator(self, dataset, training=False):
        X, y = _dataset_arrays(dataset)
        if training:
            batches = _SemiSupervisedBatches(
                X.to(self.device),
                y,
                self.batch_size,
                self.mu,
                self.device,
                max_steps=self.max_steps if self.max_epochs is None else None,
            )
            self.steps_per_epoch_ = batches.steps_per_epoch
            return batches
        if y is not None and bool((y == UNLABELED).any()):
            # Validation: skorch weights each batch's loss by its number of rows, so
            # the batches hold only the labelled rows (valid_loss is their mean).
            labeled = y != UNLABELED
            if not bool(labeled.any()):
                raise ValueError(
                    "The validation part of the data holds no labelled row, so valid_loss "
                    "cannot be computed. Use a split that puts labelled rows in both "
                    "parts, e.g. train_split=ValidSplit(5, stratified=True) after "
                    "shuffling the rows, or train_split=None."
                )
            X, y = X[labeled], y[labeled]
        return _Batches(X, y, self.batch_size * (1 + int(math.ceil(self.mu))))

    def get_split_datasets(self, X, y=None, **fit_params):
        dataset_train, dataset_valid = super().get_split_datasets(X, y, **fit_params)
        if isinstance(dataset_train, torch.utils.data.Subset):  # for _recalibrate_batchnorm
            vars(self)["_train_rows"] = np.asarray(dataset_train.indices)
        # The class shares (distribution alignment's prior) of the rows trained on
        # (the validation part stays unseen), committed when training starts, once
        # every check of the data has passed (see on_epoch_begin).
        y_train = _dataset_targets(dataset_train)
        if y_train is not None:
            vars(self)["_pending_counts"] = y_train
        if dataset_valid is not None:
            base = getattr(dataset_train, "dataset", dataset_train)
            if getattr(dataset_valid, "dataset", None) is not base:
                # Not a part of the encoded training data (predefined_split): its
                # labels are the user's, encoded here as fit encodes y.
                dataset_valid = self._encode_validation(dataset_valid)
        return dataset_train, dataset_valid

    def _encode_validation(self, dataset):
        base, rows = _unwrap_subsets(dataset)
        if not isinstance(base, Dataset) or base.y is None:
            raise TypeError(
                "train_split returned a validation set that is not a skorch Dataset with "
                f"targets (got {type(base).__name__}); use e.g. "
                "predefined_split(skorch.dataset.Dataset(X_valid, y_valid))."
            )
        X, y = base.X, base.y
        if rows is not None:
            X, y = X[rows], y[rows]
        X, y = _from_tensor(X), _from_tensor(y)
        X = validate_data(self, X, reset=False, dtype=np.float32, allow_nd=True)
        self._check_input_shape(X)
        return Dataset(X, self._encode_known(y, X.shape[0]))

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Supervised loss (``criterion``) on the rows of ``y_true`` that are labelled."""
        y_true = to_tensor(y_true, device=self.device)
        if not training:  # validation batches may hold unlabelled rows
            labeled = y_true != UNLABELED
            if not bool(labeled.any()):
                return y_pred.sum() * 0.0
            y_pred, y_true = y_pred[labeled], y_true[labeled]
        return self.criterion_(y_pred, y_true)

    def infer(self, x, **fit_params):
        x = to_tensor(x, device=self.device)
        module = self.module_ if self.module_.training else self._prediction_module()
        return module(x, **fit_params)

    def _prediction_module(self):
        """The network used in evaluation mode (hook for EMA / teacher)."""
        return self.module_

    def _get_predict_nonlinearity(self):
        # Modules return logits; probabilities are their softmax.
        return lambda logits: torch.softmax(logits, dim=-1)

    def train_step_single(self, batch, **fit_params):
        if not self.module_.training:  # walking every submodule each step costs ~0.5 ms
            self._set_training(True)
        Xi, yi = unpack_data(batch)
        n_labeled, labeled_first = _labeled_prefix(yi)
        if not labeled_first:  # the methods take the labelled rows first
            order = torch.argsort((yi == UNLABELED).to(torch.int8), stable=True)
            Xi, yi = Xi[order.to(Xi.device)], yi[order]
        Xi = to_tensor(Xi, device=self.device)
        y_l = to_tensor(yi[:n_labeled], device=self.device)
        step = self.semi_supervised_step(Xi[:n_labeled], y_l, Xi[n_labeled:], **fit_params)
        # L = L_s + w(t) L_u (Weng 2021).
        loss = step["sup_loss"] + step["unsup_weight"] * step["unsup_loss"]
        loss.backward()
        self.n_steps_ += 1
        return {"loss": loss, **step}

    def semi_supervised_step(self, x_labeled, y_labeled, x_unlabeled, **fit_params):
        """One method's losses on a batch (the hook each method writes).

        Returns
        -------
        step : dict
            ``y_pred`` (logits of the labelled rows), ``sup_loss``, ``unsup_loss``
            (tensors), ``unsup_weight`` (float), and optionally ``mask_rate`` and
            ``pseudo_label_counts`` for logging.
        """
        raise NotImplementedError

    # ------------------------------------------------------------ helpers for methods

    def _augment(self, augmentation, x, name="weak_augmentation"):
        return check_augmented(augmentation, x, name)

    def _schedule_time(self):
        """Training time for the ramp-ups: steps done, or (fractional) epochs done.

        Epochs: those of earlier calls (partial_fit, warm_start) plus the steps of
        this call over its epoch length, so that data of another size in a later
        call neither rewinds nor skips the ramp.
        """
        if getattr(self, "schedule_unit", "step") == "epoch":
            epochs, steps = vars(self).get("_epoch_origin", (0, 0))
            return epochs + (self.n_steps_ - steps) / max(self.steps_per_epoch_, 1)
        return float(self.n_steps_)

    def _steps_per_call(self):
        """Optimiser steps one ``fit`` (or ``partial_fit``) call runs: ``max_steps``, or
        ``max_epochs`` epochs of ``steps_per_epoch_`` steps (known once training starts)."""
        if self.max_epochs is None:
            return self.max_steps
        return self.max_epochs * getattr(self, "steps_per_epoch_", 0)

    def _schedule_point(self, value):
        """A point of a ramp (``rampup_length``...) in ``_schedule_time``'s unit.

        An int is a count of steps or epochs (``schedule_unit``), kept as it is; a
        float in [0, 1] is that fraction of the training length of one call
        (:meth:`_steps_per_call`, in epochs for ``schedule_unit="epoch"``), so that
        a default fit completes its ramps whatever the size of the data.
        """
        if isinstance(value, Integral):
            return value
        length = self._steps_per_call()
        if getattr(self, "schedule_unit", "step") == "epoch":
            length /= max(self.steps_per_epoch_, 1)
        return value * length

    def _count_pseudo_labels(self, pseudo_labels, used=None):
        """Pseudo-labels per class (float counts) among the rows where ``used`` is 1.

        ``used`` is a 0/1 float tensor (all rows when None). Two tensor operations
        (3 us on a CPU, against 9 us for a comparison and an integer cast more).
        """
        if used is None:
            used = torch.ones(pseudo_labels.shape, device=pseudo_labels.device)
        counts = torch.zeros(len(self.classes_), dtype=used.dtype, device=used.device)
        return counts.scatter_add_(0, pseudo_labels, used)

    # ------------------------------------------------------------ scikit-learn API

    def _seeded_devices(self):
        if self.device is not None and torch.device(self.device).type == "cuda":
            return list(range(torch.cuda.device_count()))
        return []

    def _fit_validated(self, X, y_encoded, initialize, add_counts, **fit_params):
        # Hooks are looked up afresh at each fit (callbacks may have changed since),
        # and a split left by a fit that failed must not reach this one's recalibration.
        vars(self).pop("_callback_hook_cache", None)
        vars(self).pop("_train_rows", None)
        if initialize or "_seed_stream" not in vars(self):
            # One stream per training run, as MLPClassifier keeps its _random_state:
            # each partial_fit (or warm_start fit) call draws the next seed, so
            # successive calls see new batches and augmentations, and a fresh fit
            # followed by the same calls repeats them all.
            vars(self)["_seed_stream"] = check_random_state(self.random_state)
        seed = vars(self)["_seed_stream"].randint(np.iinfo(np.int32).max)
        with torch.random.fork_rng(devices=self._seeded_devices()):
            torch.manual_seed(seed)
            if initialize:
                self.initialize()
            self._check_fit_params(fit_params)
            # Labels are counted once training starts (on_epoch_begin): a refused warm
            # call leaves the fitted state as it was.
            vars(self)["_add_counts"] = add_counts
            vars(self).pop("_pending_counts", None)
            NeuralNetClassifier.partial_fit(self, X, y_encoded, **fit_params)
            self._commit_counts()  # max_epochs=0 starts no epoch
            # The rows skorch trained on: a validation part (train_split) stays unseen.
            train_rows = vars(self).pop("_train_rows", None)
            self._recalibrate_batchnorm(X, train_rows)
        self._after_fit()
        self._check_class_shares(X, y_encoded, train_rows)
        return self

    def _check_class_shares(self, X, y_encoded, train_rows):
        """``class_share_ratio_``: the predicted classes of the unlabelled training rows
        against the labelled rows' (one inference pass); warn when a class all but
        vanished (:func:`~sklearn_ssl.utils._class_shares.check_class_shares`)."""
        unlabeled = np.flatnonzero(y_encoded == UNLABELED)
        if train_rows is not None:
            unlabeled = np.intersect1d(unlabeled, train_rows)
        predicted = np.zeros(len(self.classes_), dtype=np.int64)
        if len(unlabeled):
            logits = self.forward(X[unlabeled], training=False)
            predicted = np.bincount(
                _from_tensor(logits.argmax(dim=-1)), minlength=len(self.classes_)
            )
        self.class_share_ratio_ = check_class_shares(
            self,
            vars(self).get("_label_counts", np.zeros(len(self.classes_))),
            predicted,
            what="the predictions on the unlabelled rows",
        )

    def _check_fit_params(self, fit_params):
        """Extra fit parameters go to the module's forward (skorch): check it takes them."""
        if not fit_params:
            return
        params = inspect.signature(self.module_.forward).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return
        unknown = sorted(set(fit_params) - set(params))
        if unknown:
            raise TypeError(
                f"fit got parameter(s) {unknown} that {type(self.module_).__name__}.forward "
                "does not take: extra fit parameters are passed to the module's forward, as "
                "in skorch. The neural estimators do not weight rows (no sample_weight)."
            )

    def _recalibrate_batchnorm(self, X, train_rows=None):
        """Recompute the BatchNorm statistics of the trained networks on plain rows of ``X``.

        During training BatchNorm averages the statistics of mixed batches (labelled,
        weakly and strongly augmented unlabelled rows) with a small momentum, and an
        averaged network (EMA, teacher) carries the student's statistics, not its own.
        At test time the inputs are plain rows, so every registered network gets
        statistics of its own over up to ``batchnorm_recalibration`` training rows,
        without augmentation, with ``torch.optim.swa_utils.update_bn`` (a cumulative
        average; networks without BatchNorm run no forward pass).
        """
        pool = np.arange(len(X)) if train_rows is None else train_rows
        n_rows = min(self.batchnorm_recalibration, len(pool))
        if n_rows < 2:
            return
        rows = np.sort(pool[torch.randperm(len(pool))[:n_rows].numpy()])
        step = self.batch_size * (1 + int(math.ceil(self.mu)))
        bounds = list(range(0, n_rows, step)) + [n_rows]
        if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
            del bounds[-2]  # train-mode BatchNorm needs two rows per batch
        for name in self._modules:
            module = getattr(self, name + "_", None)
            if isinstance(module, torch.nn.Module):
                batches = (
                    torch.as_tensor(np.asarray(X[rows[start:stop]]))
                    for start, stop in zip(bounds[:-1], bounds[1:])
                )
                update_bn(batches, module, device=self.device)

    def _after_fit(self):
        """Hook: move training-time state to plain attributes."""

    def _validate_fit_data(self, X, y, reset, allow_single_class=False):
        y_arr = np.asarray(y) if y is not None else None
        if y_arr is not None and y_arr.ndim == 2 and y_arr.shape[1] == 1:
            y = column_or_1d(y_arr, warn=True)
        if reset:
            X, y, labeled, y_encoded = self._validate_semi_supervised(
                X,
                y,
                dtype=np.float32,
                allow_nd=True,
                ensure_min_samples=2,
                allow_single_class=allow_single_class,
            )
        else:
            X = validate_data(self, X, reset=False, dtype=np.float32, allow_nd=True)
            y_encoded = self._encode_known(y, X.shape[0])
            labeled = y_encoded != UNLABELED
        check_labeled_targets(np.asarray(y)[labeled] if reset else self.classes_)
        if X.ndim not in (2, 4):
            raise ValueError(
                f"X must be 2-d (n_samples, n_features) tabular data or 4-d images "
                f"(n_samples, channels, height, width); got an array of shape {X.shape}."
            )
        if reset:
            self.input_shape_ = tuple(X.shape[1:])
            ours = self.module is None or self.module in (SmallCNN, WideResNet)
            ours = ours or isinstance(self.module, SmallCNN | WideResNet)
            if ours and X.ndim == 4 and X.shape[3] in (1, 3, 4) and X.shape[1] not in (1, 3, 4):
                warnings.warn(
                    f"X has images of shape {X.shape[1:]}, which looks like (height, width, "
                    "channels); the networks take (channels, height, width). If so, pass "
                    "X.transpose(0, 3, 1, 2).",
                    UserWarning,
                )
        else:
            self._check_input_shape(X)
        return X, y_encoded, labeled

    def _encode_known(self, y, n_samples):
        """Encode ``y`` against the fitted ``classes_``; unseen labels are an error."""
        y, labeled, classes, _ = check_semi_supervised_y(y, allow_single_class=True)
        if y.shape[0] != n_samples:
            raise ValueError(f"X has {n_samples} rows but y has {y.shape[0]}.")
        unseen = np.setdiff1d(classes, self.classes_)
        if unseen.size:
            raise ValueError(
                f"y contains labels not seen during fit: {unseen.tolist()}. The estimator "
                f"knows the classes {self.classes_.tolist()}; refit with all classes or "
                "drop those rows."
            )
        encoded = np.full(y.shape[0], UNLABELED, dtype=np.int64)
        encoded[labeled] = np.searchsorted(self.classes_, y[labeled])
        return encoded

    def _check_input_shape(self, X):
        if X.ndim != len(self.input_shape_) + 1 or tuple(X.shape[1:]) != self.input_shape_:
            raise ValueError(
                f"X has rows of shape {tuple(X.shape[1:])}, but {type(self).__name__} was "
                f"fitted on rows of shape {self.input_shape_}. Pass data of the same shape "
                "(images must keep their channels, height and width)."
            )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, **fit_params):
        """Fit the network on ``X`` and ``y``, where ``y == -1`` marks unlabelled rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Tabular rows or images.
        y : array-like of shape (n_samples,)
            Labels (ints, floats or strings), ``-1`` for unlabelled rows.
        **fit_params : dict
            Passed to the module's ``forward``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, None, **fit_params)

    def _fit(self, X, y, classes, **fit_params):
        # warm_start continues training the same network: the data must fit it (the
        # checks of partial_fit), and a refused call leaves the fitted state as it was.
        initialize = not self.warm_start or not getattr(self, "initialized_", False)
        # partial_fit's first chunk may hold one class when classes lists the others.
        X, y_encoded, labeled = self._validate_fit_data(
            X, y, reset=initialize, allow_single_class=classes is not None
        )
        if initialize and classes is not None:
            y_encoded = self._declare_classes(classes, y, X.shape[0])
        # fit: the classes' shares in this y (partial_fit adds its chunks up).
        return self._fit_validated(X, y_encoded, initialize, add_counts=False, **fit_params)

    @staticmethod
    def _check_classes(classes):
        """partial_fit's ``classes``, checked as ``y``'s labels are, sorted and unique."""
        declared = _as_array(classes) if np.ndim(classes) == 1 else None
        if declared is None or not is_labeled(declared).all() or _has_missing(declared):
            raise ValueError(
                "classes must be a 1-d list of the class labels, without the unlabelled "
                f"marker -1, None or NaN; got {classes!r}."
            )
        if type_of_target(declared) not in ("binary", "multiclass"):
            raise ValueError(
                "classes must hold discrete class labels of one type (integers or "
                f"strings); got {classes!r}."
            )
        return np.unique(declared)

    def _declare_classes(self, classes, y, n_samples):
        """``classes_`` from partial_fit's ``classes``; return ``y`` encoded against them."""
        declared = self._check_classes(classes)
        try:
            missing = np.setdiff1d(self.classes_, declared)
        except TypeError as exc:  # strings in classes, numbers in y (or the reverse)
            raise ValueError(
                f"classes ({classes!r}) and the labels of y ({self.classes_.tolist()}) are "
                "not of one type; list labels of the type y holds."
            ) from exc
        if missing.size:
            raise ValueError(
                f"y holds labels that are not in classes: {missing.tolist()}. Pass every "
                "class the estimator will see in classes."
            )
        self.classes_ = declared
        return self._encode_known(y, n_samples)

    def _count_labels(self, y_encoded, add):
        """Labelled rows per class, over all the data fitted so far (partial_fit adds)."""
        counts = np.bincount(y_encoded[y_encoded != UNLABELED], minlength=len(self.classes_))
        if add and "_label_counts" in vars(self):
            counts = counts + vars(self)["_label_counts"]
        vars(self)["_label_counts"] = counts
        self.label_distribution_ = counts / max(counts.sum(), 1)

    def partial_fit(self, X, y, classes=None, **fit_params):
        """Train for ``max_steps`` more steps (or ``max_epochs`` more epochs) without
        re-initialising the network.

        The first call behaves like :meth:`fit`; later calls must use the same
        classes and input shape. Ramps given as fractions of the training length
        (the defaults) complete within the first call, so later calls train at
        the full unlabelled weight; ramps given in steps or epochs count from the
        first call on.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Tabular rows or images.
        y : array-like of shape (n_samples,)
            Labels, ``-1`` for unlabelled rows.
        classes : array-like of shape (n_classes,), default=None
            Every class the estimator will see, as scikit-learn's incremental
            learners take it: needed in the first call when its ``y`` does not
            hold every class (the network's output has one unit per class);
            in later calls it may be omitted, and must otherwise be the same.
        **fit_params : dict
            Passed to the module's ``forward``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._validate_params()
        if not self.initialized_:
            return self._fit(X, y, classes, **fit_params)
        if classes is not None and not np.array_equal(self._check_classes(classes), self.classes_):
            raise ValueError(
                f"classes={classes!r} differs from the classes of the first partial_fit "
                f"call, {self.classes_.tolist()}; pass the same classes, or none."
            )
        X, y_encoded, _ = self._validate_fit_data(X, y, reset=False)
        return self._fit_validated(X, y_encoded, initialize=False, add_counts=True, **fit_params)

    def predict_proba(self, X):
        """Class probabilities (softmax of the prediction network's logits).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        check_is_fitted(self)
        check_device(self.device)  # set_params(device=...) after fit
        if isinstance(X, torch.utils.data.Dataset):
            raise TypeError(
                f"{type(self).__name__} predicts on arrays (NumPy, tensors, DataFrames), "
                f"not on a {type(X).__name__}: pass its X. skorch's EpochScoring, which "
                "predicts on datasets of encoded labels, is not supported; the history "
                "records valid_acc, the accuracy on the labelled validation rows, instead."
            )
        X = validate_data(self, X, reset=False, dtype=np.float32, allow_nd=True)
        self._check_input_shape(X)
        return NeuralNetClassifier.predict_proba(self, X)

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def score(self, X, y, sample_weight=None):
        """Accuracy on the labelled rows of ``(X, y)``; labels unseen in fit are an error.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Test samples.
        y : array-like of shape (n_samples,)
            True labels, ``-1`` for rows that are not scored.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            Mean accuracy on the labelled rows.
        """
        check_is_fitted(self)
        self._encode_known(y, len(np.asarray(y)))  # labels unseen in fit are an error
        return super().score(X, y, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = False
        return tags
