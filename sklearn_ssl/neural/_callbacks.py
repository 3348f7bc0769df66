"""Side work of semi-supervised training: weight averaging, ramp-ups and logging.

These run as skorch callbacks, so they are configurable with
``callbacks__<name>__<param>`` and show up in ``net.history``.
"""

import math
import sys
import time

import torch
from skorch.callbacks import Callback, PrintLog
from skorch.utils import Ansi


def lee_alpha(t, t1, t2, alpha_final):
    """Lee (2013) unlabelled weight, eq. 16.

    ``alpha(t) = 0`` for ``t < T1``, ``alpha_f * (t - T1) / (T2 - T1)`` for
    ``T1 <= t < T2`` and ``alpha_f`` from ``T2`` on.

    Examples
    --------
    >>> from sklearn_ssl.neural import lee_alpha
    >>> [lee_alpha(t, 100, 600, 3.0) for t in (50, 350, 700)]
    [0.0, 1.5, 3.0]
    """
    if t < t1:
        return 0.0
    if t >= t2:
        return float(alpha_final)
    return float(alpha_final) * (t - t1) / (t2 - t1)


def sigmoid_rampup(t, length):
    """Sigmoid-shaped ramp ``exp(-5 (1 - t / length)^2)`` from 0 to 1.

    The consistency ramp-up of Mean Teacher (Tarvainen and Valpola 2017), 1 from
    ``t = length`` on.

    Examples
    --------
    >>> from sklearn_ssl.neural import sigmoid_rampup
    >>> round(sigmoid_rampup(50, 100), 4), sigmoid_rampup(100, 100)
    (0.2865, 1.0)
    """
    if length <= 0 or t >= length:
        return 1.0
    phase = 1.0 - max(t, 0.0) / length
    return math.exp(-5.0 * phase * phase)


@torch.no_grad()
def ema_update_(target, source, decay):
    """Move ``target``'s weights towards ``source``'s: ``theta' <- d theta' + (1 - d) theta``.

    This is the Mean Teacher update (Weng 2021, ``theta' <- beta theta' + (1 - beta) theta``);
    buffers such as BatchNorm statistics are copied. ``target`` and ``source`` are
    modules, or ``(parameters, buffers)`` pairs of lists (cached by
    :class:`EMAWeights` to save walking the modules at every step).

    Examples
    --------
    >>> import torch
    >>> from sklearn_ssl.neural import ema_update_
    >>> teacher, student = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    >>> with torch.no_grad():
    ...     _ = teacher.weight.zero_(), student.weight.fill_(1.0)
    >>> ema_update_(teacher, student, decay=0.9)
    >>> [round(w, 3) for w in teacher.weight[0].tolist()]
    [0.1, 0.1]
    """
    target_params, target_buffers = _tensors(target)
    source_params, source_buffers = _tensors(source)
    if target_params:
        torch._foreach_lerp_(target_params, source_params, 1.0 - decay)
    if target_buffers:
        torch._foreach_copy_(target_buffers, source_buffers)


def _tensors(module):
    if isinstance(module, tuple):
        return module
    return list(module.parameters()), list(module.buffers())


class EMAWeights(Callback):
    """After each training step, average the student's weights into another module.

    Parameters
    ----------
    target : str, default="ema_module"
        Name of the registered module that receives the average (``net.<target>_``).
    decay : float or None, default=None
        Fixed decay. ``None`` asks the net (``net.get_ema_decay()``), which lets
        Mean Teacher switch from 0.99 to 0.999 after the ramp-up.

    Examples
    --------
    FixMatch registers one as ``"ema"``; its parameters are set like any callback's:

    >>> from sklearn_ssl.neural import FixMatchClassifier
    >>> clf = FixMatchClassifier(callbacks__ema__decay=0.99)
    >>> dict(clf.initialize_callbacks().callbacks_)["ema"].decay
    0.99
    """

    def __init__(self, target="ema_module", decay=None):
        self.target = target
        self.decay = decay

    def on_train_begin(self, net, **kwargs):
        target = getattr(net, self.target + "_", None)
        self.tensors_ = None
        if target is not None:
            source_params = [p.detach() for p in net.module_.parameters()]
            self.tensors_ = (
                _tensors(target),
                (source_params, list(net.module_.buffers())),
            )

    def on_train_end(self, net, **kwargs):
        # Device tensors must not outlive training here: pickles of the net keep
        # device tensors only in skorch's module attributes, which unpickle on a CPU.
        self.tensors_ = None

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        if not training or getattr(self, "tensors_", None) is None:
            return
        decay = net.get_ema_decay() if self.decay is None else self.decay
        ema_update_(*self.tensors_, decay)


class SemiSupervisedLog(Callback):
    """Record per epoch: ``sup_loss``, ``unsup_loss``, ``unsup_weight``, ``mask_rate``
    (the fraction of unlabelled rows whose pseudo-label counts) and
    ``pseudo_label_hist`` (pseudo-labels per class among those rows); with a
    validation split, the accuracy of each validation batch (its labelled rows, by
    the network that predicts, as ``valid_loss``), which the estimators' default
    ``PassthroughScoring`` averages into ``valid_acc`` and ``valid_acc_best`` (for
    ``Checkpoint(monitor="valid_acc_best")``).

    Values stay on the device: each step's are kept (detached) and summed every
    ``_FLUSH_EVERY`` steps with one ``stack``, and read once at the end of the
    epoch, so logging adds no host-device synchronisation per step and costs
    about 2 us per step on a CPU (adding each value to a running sum took 9).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ssl.neural import FixMatchClassifier
    >>> X = np.random.RandomState(0).randn(40, 2).astype("float32")
    >>> y = np.r_[[0, 1] * 5, [-1] * 30]
    >>> clf = FixMatchClassifier(max_epochs=1, batch_size=8, mu=2, verbose=0, random_state=0)
    >>> row = clf.fit(X, y).history[-1]
    >>> sorted(k for k in row if k in ("sup_loss", "unsup_loss", "mask_rate", "pseudo_label_hist"))
    ['mask_rate', 'pseudo_label_hist', 'sup_loss', 'unsup_loss']
    """

    _KEYS = ("sup_loss", "unsup_loss", "mask_rate")
    _FLUSH_EVERY = 256

    def on_epoch_begin(self, net, **kwargs):
        self.sums_ = {}
        self.pending_ = {}
        self.counts_ = {}  # steps that reported each key
        self.n_batches_ = 0
        self.unsup_weight_sum_ = 0.0

    def _flush(self):
        for key, values in self.pending_.items():
            if values:
                total = torch.stack(values).sum(dim=0)
                if key == "hist":  # float counts, exact per chunk; int64 across chunks
                    total = total.round().to(torch.int64)
                self.sums_[key] = self.sums_[key] + total if key in self.sums_ else total
                values.clear()

    def on_batch_end(self, net, batch=None, training=False, **step):
        if not training:
            # Validation batches hold the labelled rows of the validation part only
            # (encoded labels), scored by the network that predicts.
            y_pred, y_true = step.get("y_pred"), None if batch is None else batch[1]
            if y_pred is not None and y_true is not None and len(y_true):
                y_true = torch.as_tensor(y_true, device=y_pred.device)
                correct = (y_pred.argmax(dim=-1) == y_true).to(torch.float64).mean()
                net.history.record_batch("valid_acc", float(correct))
            return
        self.n_batches_ += 1
        pending = self.pending_
        for key in self._KEYS:
            value = step.get(key)
            if value is not None:
                if torch.is_tensor(value):
                    if value.requires_grad:  # the losses; a detach is a dispatch (1 us)
                        value = value.detach()
                else:
                    value = torch.tensor(float(value))
                pending.setdefault(key, []).append(value)
                self.counts_[key] = self.counts_.get(key, 0) + 1
        weight = step.get("unsup_weight", 0.0)
        if torch.is_tensor(weight):  # no float(): it would wait for the device
            pending.setdefault("unsup_weight", []).append(
                weight.detach() if weight.requires_grad else weight
            )
        else:
            self.unsup_weight_sum_ += float(weight)
        hist = step.get("pseudo_label_counts")
        if hist is not None:
            pending.setdefault("hist", []).append(hist.detach() if hist.requires_grad else hist)
        if self.n_batches_ % self._FLUSH_EVERY == 0:
            self._flush()

    def on_epoch_end(self, net, **kwargs):
        if not self.n_batches_:
            return
        self._flush()
        for key in self._KEYS:
            if key in self.sums_:  # the mean over the steps that reported the key
                net.history.record(key, float(self.sums_[key]) / self.counts_[key])
        weight_sum = self.unsup_weight_sum_ + float(self.sums_.get("unsup_weight", 0.0))
        net.history.record("unsup_weight", weight_sum / self.n_batches_)
        if "hist" in self.sums_:
            net.history.record("pseudo_label_hist", self.sums_["hist"].cpu().tolist())
        self.sums_ = {}


def _is_terminal(stream):
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


class ProgressLine(Callback):
    """One line on stderr that follows a long fit: steps done, time spent and left.

    Active with the estimators' default ``verbose=None``, and only when stderr
    is an interactive terminal: the line appears once a fit (or ``partial_fit``
    call) has trained for ``delay`` seconds, is rewritten in place (a carriage
    return, no ANSI codes) every ``interval`` seconds and after each epoch, and
    is ended with a newline when training ends. Short fits, logs, notebooks and
    pipes see nothing; ``verbose=0`` silences it, ``verbose>=1`` prints the
    history table instead.

    Parameters
    ----------
    delay : float, default=5.0
        Seconds of training before the line appears.
    interval : float, default=0.5
        Shortest time between two updates of the line, in seconds.

    Examples
    --------
    The estimators register it as ``"progress"``:

    >>> from sklearn_ssl.neural import FixMatchClassifier
    >>> clf = FixMatchClassifier(callbacks__progress__delay=1.0)
    >>> dict(clf.initialize_callbacks().callbacks_)["progress"].delay
    1.0
    """

    def __init__(self, delay=5.0, interval=0.5):
        self.delay = delay
        self.interval = interval

    def on_train_begin(self, net, **kwargs):
        self.active_ = net.verbose is None and _is_terminal(sys.stderr)
        self.start_ = time.perf_counter()
        self.next_ = self.start_ + self.delay
        self.first_step_ = net.n_steps_
        self.width_ = 0
        self.loss_ = None

    def on_batch_end(self, net, training=False, **kwargs):
        if training and getattr(self, "active_", False) and time.perf_counter() >= self.next_:
            self._write(net, end="")

    def on_epoch_end(self, net, **kwargs):
        if getattr(self, "active_", False):
            self.loss_ = net.history[-1].get("train_loss")
            if self.width_:
                self._write(net, end="")

    def on_train_end(self, net, **kwargs):
        if getattr(self, "active_", False) and self.width_:
            self._write(net, end="\n")
        self.active_ = False

    def _write(self, net, end):
        now = time.perf_counter()
        elapsed = now - self.start_
        done = net.n_steps_ - self.first_step_
        total = net._steps_per_call()
        text = f"{type(net).__name__}: step {done}"
        if total:
            text += f"/{total} ({100 * done / total:.0f}%)"
        text += f", {elapsed:.0f} s"
        if total and 0 < done < total:
            text += f", about {elapsed * (total - done) / done:.0f} s left"
        if self.loss_ is not None:  # of the last epoch
            text += f", train_loss {self.loss_:.3f}"
        # Pad over the previous, longer text: no ANSI erase code is needed.
        sys.stderr.write("\r" + text.ljust(self.width_) + end)
        sys.stderr.flush()
        self.width_ = len(text)
        self.next_ = now + self.interval


class HistoryTable(PrintLog):
    """skorch's :class:`~skorch.callbacks.PrintLog` (``verbose>=1``), without colour
    codes when its output is not a terminal (logs, files, pipes)."""

    def on_train_begin(self, net, **kwargs):
        self.plain_ = self.sink is not print or not _is_terminal(sys.stdout)

    def format_row(self, row, key, color):
        if getattr(self, "plain_", False):
            color = ""
        text = super().format_row(row, key, color)
        if not color and isinstance(text, str):
            text = text.replace(Ansi.ENDC.value, "")
        return text
