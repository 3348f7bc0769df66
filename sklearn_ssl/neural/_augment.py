"""Batched augmentations written on tensors (no torchvision needed).

Every augmentation is a picklable callable ``aug(x) -> x_aug`` that takes a batch
already on the training device and returns a batch of the same size, drawing its
randomness from torch's generator of that device (so ``random_state`` controls it).

Defaults (``"auto"``), chosen from the number of dimensions of ``X`` in ``fit``:

============  ==============================  ==========================================
``X``         weak                            strong (FixMatch only)
============  ==============================  ==========================================
2-d tabular   :class:`GaussianNoise` (0.05)   :class:`GaussianNoise` (0.2)
4-d images    :class:`FlipShift`              :class:`RandAugmentCutout`
============  ==============================  ==========================================
"""

import math
from numbers import Integral, Real

import torch
from torch.nn import functional as F


def check_augmented(augmentation, x, name):
    """Apply ``augmentation`` to ``x`` and check that it kept the batch size."""
    if augmentation is None:
        return x
    out = augmentation(x)
    if not isinstance(out, torch.Tensor) or out.shape[0] != x.shape[0]:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"{name} must return a tensor with one row per input row: it turned a batch "
            f"of shape {tuple(x.shape)} into {got}. Augmentations may change values, "
            "not the batch size."
        )
    return out


class _Augmentation:
    """Base: a repr that shows the parameters, so estimator reprs stay readable."""

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and vars(self) == vars(other)

    def _check_input(self, x, images=False):
        """A floating-point tensor (of shape (N, C, H, W) for images), or a clear error."""
        name = type(self).__name__
        if not isinstance(x, torch.Tensor):
            raise TypeError(
                f"{name} works on torch tensors, got {type(x).__name__}. Convert with "
                "torch.as_tensor(x, dtype=torch.float32) (the estimators pass tensors)."
            )
        if not x.is_floating_point():
            raise TypeError(
                f"{name} needs floating-point values, got dtype {x.dtype}. Convert "
                "first, e.g. x.float() / 255 for uint8 images."
            )
        if images and x.ndim != 4:
            raise ValueError(
                f"{name} takes a batch of images of shape (N, C, H, W), got shape "
                f"{tuple(x.shape)}. Add the channel axis for grey images: x[:, None]."
            )

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(vars(self).items()))))


def _check_number(augmentation, name, meaning, high=None):
    """Raise a clear error unless ``augmentation.<name>`` is a number in [0, high]."""
    value = getattr(augmentation, name)
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not (0 <= value and (high is None or value <= high))
    ):
        expected = "a number >= 0" if high is None else f"between 0 and {high}"
        raise ValueError(
            f"{type(augmentation).__name__}({name}={value!r}) must be {expected}: it is {meaning}."
        )


# ---------------------------------------------------------------- tabular data


def _batch_std(x):
    """Population std of each column of ``x``: ``x.std(dim=0, unbiased=False)``, faster.

    Two passes over the rows shifted by the first one (the shift keeps the float32
    mean exact for columns far from zero: 1e-7 relative error at an offset of 1e6,
    as torch's one-pass reduction, against 2e-4 unshifted). 24 us instead of 61 for a
    512 x 20 batch on one CPU thread, where torch's reduction is slow.
    """
    shifted = x - x[:1]
    centred = shifted - shifted.mean(dim=0, keepdim=True)
    return centred.square().mean(dim=0, keepdim=True).sqrt()


class GaussianNoise(_Augmentation):
    """Add Gaussian noise scaled by each feature's standard deviation in the batch.

    Parameters
    ----------
    scale : float, default=0.05
        Noise standard deviation as a fraction of the feature's batch std.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ssl.neural import GaussianNoise
    >>> GaussianNoise(0.1)(torch.randn(8, 3)).shape
    torch.Size([8, 3])
    """

    def __init__(self, scale=0.05):
        self.scale = scale
        _check_number(self, "scale", "the noise std over each feature's batch std")

    def __call__(self, x):
        self._check_input(x)
        return x + self.scale * _batch_std(x) * torch.randn_like(x)


class FeatureCorruption(_Augmentation):
    """Strong tabular augmentation: Gaussian noise plus values swapped in from other rows.

    Each entry is replaced, with probability ``corruption_rate``, by the value of the
    same feature in a random row of the batch (drawn from the feature's marginal),
    then noise of ``noise_scale`` feature stds is added.

    Parameters
    ----------
    noise_scale : float, default=0.15
        Noise standard deviation as a fraction of the feature's batch std.
    corruption_rate : float, default=0.1
        Probability that an entry is swapped with another row's value.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ssl.neural import FeatureCorruption
    >>> table = torch.arange(6.0).reshape(3, 2)
    >>> swapped = FeatureCorruption(noise_scale=0.0, corruption_rate=1.0)(table)
    >>> set(swapped[:, 0].tolist()) <= {0.0, 2.0, 4.0}  # values of the same column
    True
    """

    def __init__(self, noise_scale=0.15, corruption_rate=0.1):
        self.noise_scale = noise_scale
        self.corruption_rate = corruption_rate
        _check_number(self, "noise_scale", "the noise std over each feature's batch std")
        _check_number(self, "corruption_rate", "the probability of swapping an entry", high=1)

    def __call__(self, x):
        self._check_input(x)
        flat = x.reshape(x.shape[0], -1)
        donors = torch.randint(0, flat.shape[0], flat.shape, device=x.device)
        swapped = flat.gather(0, donors)
        corrupt = torch.rand(flat.shape, device=x.device) < self.corruption_rate
        flat = torch.where(corrupt, swapped, flat)
        flat = flat + self.noise_scale * _batch_std(flat) * torch.randn_like(flat)
        return flat.reshape(x.shape)


# ---------------------------------------------------------------- images (N, C, H, W)


def _random_flip_shift(n, flip, max_shift, height, width, device, dtype=torch.float32):
    """Affine matrices (n, 2, 3) of a random horizontal flip and integer shift."""
    theta = torch.zeros(n, 2, 3, device=device, dtype=dtype)
    theta[:, 0, 0] = 1.0
    theta[:, 1, 1] = 1.0
    if flip:
        theta[:, 0, 0] = _random_sign(n, device, dtype)
    if max_shift:
        # Whole-pixel shifts: with align_corners=False, 2 / size is one pixel.
        for axis, size in ((0, width), (1, height)):
            pixels = round(max_shift * size)
            shift = torch.randint(-pixels, pixels + 1, (n,), device=device).float()
            theta[:, axis, 2] = 2.0 * shift / size
    return theta


def _warp(x, theta):
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


class FlipShift(_Augmentation):
    """Weak image augmentation: random horizontal flip and random shift (pad-and-crop).

    Parameters
    ----------
    flip : bool, default=True
        Flip half of the images left-right. Turn off for digits and text.
    max_shift : float, default=0.125
        Largest shift as a fraction of the image size (FixMatch: 12.5%), in whole
        pixels; the border is filled by reflection.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ssl.neural import FlipShift
    >>> FlipShift()(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 3, 32, 32])
    """

    def __init__(self, flip=True, max_shift=0.125):
        self.flip = flip
        self.max_shift = max_shift
        _check_number(self, "max_shift", "the largest shift over the image size", high=1)

    def __call__(self, x):
        self._check_input(x, images=True)
        n, _, height, width = x.shape
        theta = _random_flip_shift(n, self.flip, self.max_shift, height, width, x.device, x.dtype)
        return _warp(x, theta)


# Colour operations act on images rescaled to [0, 1] per image; m is the magnitude in [0, 1].
def _autocontrast(u, m):
    lo = u.amin(dim=(2, 3), keepdim=True)
    hi = u.amax(dim=(2, 3), keepdim=True)
    return (u - lo) / (hi - lo).clamp_min(1e-6)


def _random_sign(n, device, dtype):
    # In the images' dtype: a float32 sign would promote half-precision images.
    return torch.where(torch.rand(n, device=device) < 0.5, -1.0, 1.0).to(dtype)


def _signed(m):
    return (0.9 * m * _random_sign(m.shape[0], m.device, m.dtype)).view(-1, 1, 1, 1)


def _brightness(u, m):
    return u * (1 + _signed(m))


def _contrast(u, m):
    mean = u.mean(dim=(1, 2, 3), keepdim=True)
    return mean + (u - mean) * (1 + _signed(m))


def _sharpness(u, m):
    blurred = F.avg_pool2d(u, 3, stride=1, padding=1, count_include_pad=False)
    return u + (u - blurred) * _signed(m)


def _solarize(u, m):
    return torch.where(u > 1 - m.view(-1, 1, 1, 1), 1 - u, u)  # magnitude 0: no change


def _posterize(u, m):
    levels = (2.0 ** (8 - torch.round(4 * m))).view(-1, 1, 1, 1)
    return torch.floor(u * levels) / levels


def _saturation(u, m):
    if u.shape[1] == 1:
        return u
    gray = u.mean(dim=1, keepdim=True)
    return gray + (u - gray) * (1 + _signed(m))


_COLOR_OPS = (_autocontrast, _brightness, _contrast, _sharpness, _solarize, _posterize, _saturation)
# Geometric operations (rotate, shear x/y, translate x/y) and identity: composed into one warp.
_N_GEOMETRIC = 6


def _geometric(theta, op, m, aspect=1.0):
    """Compose the geometric operation ``op`` (0..5) of magnitude ``m`` into ``theta``.

    ``theta`` works in ``affine_grid``'s coordinates, where both axes span [-1, 1];
    ``aspect`` (width / height) turns pixel-space rotations and shears into them
    (on a non-square image a rotation there would stretch the image).
    """
    n = m.shape[0]
    sign = _random_sign(n, m.device, m.dtype)
    extra = torch.eye(3, device=m.device, dtype=m.dtype).repeat(n, 1, 1)
    if op == 0:  # identity
        return theta
    if op == 1:  # rotate up to 30 degrees
        angle = sign * m * math.radians(30)
        extra[:, 0, 0] = torch.cos(angle)
        extra[:, 0, 1] = -torch.sin(angle) / aspect
        extra[:, 1, 0] = torch.sin(angle) * aspect
        extra[:, 1, 1] = torch.cos(angle)
    elif op == 2:  # shear x up to 0.3 (in pixels)
        extra[:, 0, 1] = sign * 0.3 * m / aspect
    elif op == 3:  # shear y up to 0.3
        extra[:, 1, 0] = sign * 0.3 * m * aspect
    else:  # translate up to 30% of the size (the grid spans 2 units)
        extra[:, 0 if op == 4 else 1, 2] = sign * 0.6 * m
    # [A t] [B s; 0 0 1] = [AB, As + t]: extra's last row is (0, 0, 1), so the 2x3
    # theta composes with it directly (a (0, 0, 1) row built from Python numbers
    # would be a host-to-device copy, i.e. a synchronisation per operation on a GPU).
    return torch.bmm(theta, extra)


class RandAugmentCutout(_Augmentation):
    """Strong image augmentation: flip + shift, RandAugment-style operations, Cutout.

    Each image gets ``n_ops`` operations drawn uniformly from 13 (identity, rotate,
    shear x/y, translate x/y, autocontrast, brightness, contrast, sharpness,
    solarize, posterize, saturation), each with a random magnitude as in
    FixMatch's RandAugment variant; then a square of side up to ``cutout`` times
    the image size is set to grey. Colour operations work on each image rescaled
    to [0, 1] and are mapped back, so any pixel scale works.

    Parameters
    ----------
    n_ops : int, default=2
        Operations per image.
    cutout : float, default=0.5
        Largest Cutout side as a fraction of the image size (0 disables Cutout).
        The side is drawn uniformly up to it, where Sohn et al.'s (2020) FixMatch cuts a
        fixed 0.5-side patch, so holes are about a third as large on average.
    flip : bool, default=True
        Random horizontal flip first, as in the weak augmentation.
    max_shift : float, default=0.125
        Random shift first, as in the weak augmentation.
    magnitude : float in [0, 1], default=1.0
        Largest magnitude of the operations, as a fraction of each one's full range
        (rotations up to ``30 * magnitude`` degrees, translations up to ``30 *
        magnitude`` percent, shears up to ``0.3 * magnitude``, colour changes
        likewise); each image's magnitudes are drawn uniformly below it. 1 is
        FixMatch's setting for natural images; a smaller value gives a milder
        strong view, for data such as digits where a 30-degree rotation or a
        30% shift can change what the image shows.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ssl.neural import RandAugmentCutout
    >>> mild = RandAugmentCutout(flip=False, magnitude=0.5, cutout=0.3)
    >>> mild(torch.rand(4, 1, 28, 28)).shape
    torch.Size([4, 1, 28, 28])
    """

    def __init__(self, n_ops=2, cutout=0.5, flip=True, max_shift=0.125, magnitude=1.0):
        self.n_ops = n_ops
        self.cutout = cutout
        self.flip = flip
        self.max_shift = max_shift
        self.magnitude = magnitude
        _check_number(
            self, "magnitude", "the fraction of each operation's full range (1 = FixMatch's)", 1
        )
        _check_number(self, "cutout", "the largest Cutout side over the image size", high=1)
        _check_number(self, "max_shift", "the largest shift over the image size", high=1)
        if isinstance(self.n_ops, bool) or not isinstance(self.n_ops, Integral) or self.n_ops < 0:
            raise ValueError(
                f"RandAugmentCutout(n_ops={self.n_ops!r}) must be a non-negative integer: "
                "the number of operations applied to each image."
            )

    def __call__(self, x):
        self._check_input(x, images=True)
        n, _, height, width = x.shape
        device = x.device
        n_total = _N_GEOMETRIC + len(_COLOR_OPS)
        ops = torch.randint(0, n_total, (n, self.n_ops), device=device)
        magnitudes = self.magnitude * torch.rand(n, self.n_ops, device=device, dtype=x.dtype)

        theta = _random_flip_shift(n, self.flip, self.max_shift, height, width, device, x.dtype)
        for k in range(self.n_ops):
            for op in range(1, _N_GEOMETRIC):
                selected = ops[:, k] == op
                composed = _geometric(theta, op, magnitudes[:, k], width / height)
                theta = torch.where(selected.view(-1, 1, 1), composed, theta)
        x = _warp(x, theta)

        lo = x.amin(dim=(1, 2, 3), keepdim=True)
        scale = (x.amax(dim=(1, 2, 3), keepdim=True) - lo).clamp_min(1e-6)
        u = (x - lo) / scale
        for k in range(self.n_ops):
            for j, color_op in enumerate(_COLOR_OPS):
                # Every op runs on the whole batch and torch.where keeps the selected
                # rows: no boolean indexing, so no host-device sync on a GPU.
                selected = (ops[:, k] == _N_GEOMETRIC + j).view(-1, 1, 1, 1)
                u = torch.where(selected, color_op(u, magnitudes[:, k]).clamp(0, 1), u)
        if self.cutout:
            side = torch.rand(n, device=device) * self.cutout * min(height, width)
            cy = torch.rand(n, device=device) * height
            cx = torch.rand(n, device=device) * width
            rows = torch.arange(height, device=device).view(1, -1)
            cols = torch.arange(width, device=device).view(1, -1)
            inside_r = (rows - cy.view(-1, 1)).abs() <= side.view(-1, 1) / 2
            inside_c = (cols - cx.view(-1, 1)).abs() <= side.view(-1, 1) / 2
            hole = (inside_r[:, :, None] & inside_c[:, None, :]).unsqueeze(1)
            u = torch.where(hole, 0.5, u)
        return u * scale + lo


def default_augmentations(ndim):
    """Return the default ``(weak, strong)`` augmentations for ``X`` with ``ndim`` dims."""
    if ndim == 4:
        return FlipShift(), RandAugmentCutout()
    return GaussianNoise(0.05), GaussianNoise(0.2)
