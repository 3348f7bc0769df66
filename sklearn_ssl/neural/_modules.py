"""Ready-made networks: an MLP, the small MNIST CNN of seed 000 and WideResNet-28-2.

Every module returns logits (no softmax): the semi-supervised losses apply
``softmax``/``cross_entropy`` themselves.
"""

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
    """

    def __init__(self, n_features, n_classes, hidden_layer_sizes=(100,), dropout=0.0):
        super().__init__()
        layers = []
        width = n_features
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, size), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x.reshape(x.shape[0], -1))


class SmallCNN(nn.Module):
    """The two-convolution network of seed 000 (Lee's pseudo-labels on MNIST).

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

    def forward(self, x):
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
