"""Ready-made networks: an MLP, the small MNIST CNN of Anirudh S.'s blog post and WideResNet-28-2.

Every module returns logits (no softmax): the semi-supervised losses apply
``softmax``/``cross_entropy`` themselves.
"""

from numbers import Integral

import torch
from torch import nn
from torch.nn import functional as F


class MLP(nn.Module):
    """Fully connected network with ReLU activations.

    Parameters
    ----------
    n_features : int
        Number of input features.
    n_classes : int
        Number of output logits.
    hidden_layer_sizes : tuple of int, default=(100,)
        Width of each hidden layer, as in :class:`sklearn.neural_network.MLPClassifier`.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ssl.neural import MLP
    >>> MLP(4, 3, (16,))(torch.randn(5, 4)).shape  # logits
    torch.Size([5, 3])
    """

    def __init__(self, n_features, n_classes, hidden_layer_sizes=(100,), dropout=0.0):
        super().__init__()
        sizes = list(hidden_layer_sizes)
        if not all(isinstance(s, Integral) and not isinstance(s, bool) and s >= 1 for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes must be positive integers (units per hidden layer); "
                f"got {tuple(sizes)!r}."
            )
        layers = []
        width = n_features
        for size in sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x.reshape(x.shape[0], -1))


class SmallCNN(nn.Module):
    """The two-convolution network of Anirudh S.'s blog post (Lee's pseudo-labels on MNIST).

    conv 5x5 (20) -> max-pool -> ReLU -> conv 5x5 (40) -> dropout2d -> max-pool ->
    ReLU -> linear (150) -> ReLU -> dropout -> linear (n_classes). The seed applies a
    ReLU and ``log_softmax`` to the last layer; here it returns plain logits.

    Parameters
    ----------
    in_channels : int, default=1
        Channels of the input images.
    n_classes : int, default=10
        Number of output logits.
    image_size : int or (int, int), default=28
        Height and width of the input images; sizes the first linear layer
        (640 inputs for 28x28 images, as in the seed).
    dropout : float, default=0.5
        Dropout probability (the seed uses PyTorch's default, 0.5).

    Notes
    -----
    The convolution weights and activations are kept channels-last (NHWC). The
    result is the same; on a CPU oneDNN's NHWC kernels run this network about
    twice as fast as the default NCHW layout (one thread, 960 28x28 images:
    0.21 s against 0.41 s per forward and backward pass), and a whole FixMatch
    step on MNIST (batch 64, ``mu=7``) takes about 0.30 s instead of 0.47 s. The
    layout has not been timed on a GPU.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ssl.neural import SmallCNN
    >>> SmallCNN(in_channels=1, n_classes=10, image_size=28)(torch.rand(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_channels=1, n_classes=10, image_size=28, dropout=0.5):
        super().__init__()
        height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
        out_h, out_w = ((height - 4) // 2 - 4) // 2, ((width - 4) // 2 - 4) // 2
        if out_h < 1 or out_w < 1:
            raise ValueError(
                f"SmallCNN needs images of at least 16x16 pixels, got {height}x{width}."
            )
        self.conv1 = nn.Conv2d(in_channels, 20, kernel_size=5)
        self.conv2 = nn.Conv2d(20, 40, kernel_size=5)
        self.conv2_drop = nn.Dropout2d(dropout)
        self.fc1 = nn.Linear(40 * out_h * out_w, 150)
        self.fc2 = nn.Linear(150, n_classes)
        self.dropout = dropout
        self.to(memory_format=torch.channels_last)

    def forward(self, x):
        x = x.contiguous(memory_format=torch.channels_last)
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.dropout(x, p=self.dropout, training=self.training)
        return self.fc2(x)


class _WideBasicBlock(nn.Module):
    """Pre-activation residual block (BN -> LeakyReLU -> conv, twice)."""

    def __init__(self, in_planes, out_planes, stride, bn_momentum):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes, momentum=bn_momentum)
        self.conv1 = nn.Conv2d(in_planes, out_planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_planes, momentum=bn_momentum)
        self.conv2 = nn.Conv2d(out_planes, out_planes, 3, 1, 1, bias=False)
        self.shortcut = None
        if stride != 1 or in_planes != out_planes:
            self.shortcut = nn.Conv2d(in_planes, out_planes, 1, stride, 0, bias=False)

    def forward(self, x):
        out = F.leaky_relu(self.bn1(x), 0.1)
        # The projection shortcut sees the activated input, as in the WRN paper.
        shortcut = x if self.shortcut is None else self.shortcut(out)
        out = self.conv1(out)
        out = self.conv2(F.leaky_relu(self.bn2(out), 0.1))
        return out + shortcut


class WideResNet(nn.Module):
    """WideResNet (Zagoruyko and Komodakis), WRN-28-2 by default: FixMatch's backbone.

    Parameters
    ----------
    in_channels : int, default=3
        Channels of the input images.
    n_classes : int, default=10
        Number of output logits.
    depth : int, default=28
        Network depth; ``(depth - 4)`` must be a multiple of 6.
    widen_factor : int, default=2
        Width multiplier of the three groups (16, 32, 64 channels times it).
    bn_momentum : float, default=0.001
        BatchNorm momentum (FixMatch uses 0.001).

    Examples
    --------
    >>> import torch
    >>> from sklearn_ssl.neural import WideResNet
    >>> WideResNet(depth=10, widen_factor=1)(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_channels=3, n_classes=10, depth=28, widen_factor=2, bn_momentum=0.001):
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"depth - 4 must be a multiple of 6, got depth={depth}.")
        n_blocks = (depth - 4) // 6
        widths = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.stem = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        blocks = []
        for group, stride in enumerate((1, 2, 2)):
            for i in range(n_blocks):
                in_planes = widths[group] if i == 0 else widths[group + 1]
                blocks.append(
                    _WideBasicBlock(
                        in_planes, widths[group + 1], stride if i == 0 else 1, bn_momentum
                    )
                )
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(widths[-1], momentum=bn_momentum)
        self.fc = nn.Linear(widths[-1], n_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="leaky_relu")
            elif isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        out = self.blocks(self.stem(x))
        out = F.leaky_relu(self.bn(out), 0.1)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))


class MixedPrecision(nn.Module):
    """Run a network under autocast (bfloat16 by default) and return float32 logits.

    On a GPU, convolutional networks train several times faster this way:
    WRN-28-2's forward + backward pass over a FixMatch batch (960 images of
    32x32) took 50 ms in float32 on an H100, 47 ms under bfloat16 autocast and
    18.6 ms under bfloat16 autocast with ``channels_last=True``. Parameters stay
    in float32 (autocast casts per operation), so the optimizer, the EMA copy
    and pickling see an ordinary module; the semi-supervised losses receive
    float32 logits.

    Parameters
    ----------
    module : torch.nn.Module
        The network (an instance). With ``channels_last=True`` its weights
        are converted to that layout in place (values unchanged).
    dtype : torch.dtype, default=torch.bfloat16
        Autocast type. ``torch.float16`` on GPUs without bfloat16 (it can
        overflow without a gradient scaler; bfloat16 cannot).
    channels_last : bool, default=False
        Store 4-d weights and inputs in ``torch.channels_last`` memory format,
        the layout GPU convolution kernels are fastest in. No effect on values.

    Examples
    --------
    >>> import torch
    >>> from sklearn_ssl.neural import MixedPrecision, SmallCNN
    >>> net = MixedPrecision(SmallCNN(in_channels=1, n_classes=10), channels_last=True)
    >>> net(torch.zeros(2, 1, 28, 28)).dtype
    torch.float32
    """

    def __init__(self, module, dtype=torch.bfloat16, channels_last=False):
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"MixedPrecision wraps a torch.nn.Module instance; got {type(module).__name__}. "
                "Build the network first, e.g. MixedPrecision(WideResNet())."
            )
        if dtype not in (torch.bfloat16, torch.float16):
            raise ValueError(f"dtype must be torch.bfloat16 or torch.float16; got {dtype}.")
        self.dtype = dtype
        self.channels_last = channels_last
        self.module = module.to(memory_format=torch.channels_last) if channels_last else module

    def forward(self, x):
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(x.device.type, dtype=self.dtype):
            out = self.module(x)
        return out.float()
