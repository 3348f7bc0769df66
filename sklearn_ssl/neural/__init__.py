"""Neural semi-supervised classifiers on skorch (needs the ``torch`` extra).

FixMatch, Mean Teacher and Lee's pseudo-labels behind ``fit(X, y)`` with ``-1``
for unlabelled rows, plus ready networks and tensor augmentations.
"""

try:
    import skorch  # noqa: F401
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "sklearn_ssl.neural needs torch and skorch, which are not installed "
        f'({exc}). Install them with: pip install "sklearn-ssl[torch]"'
    ) from exc

from ._augment import FeatureCorruption, FlipShift, GaussianNoise, RandAugmentCutout
from ._callbacks import (
    EMAWeights,
    ProgressLine,
    SemiSupervisedLog,
    ema_update_,
    lee_alpha,
    sigmoid_rampup,
)
from ._fixmatch import FixMatchClassifier, confidence_weight
from ._mean_teacher import MeanTeacherClassifier
from ._modules import MLP, MixedPrecision, SmallCNN, WideResNet
from ._pseudo_label import PseudoLabelClassifier

__all__ = [
    "EMAWeights",
    "FeatureCorruption",
    "FixMatchClassifier",
    "FlipShift",
    "GaussianNoise",
    "MLP",
    "MeanTeacherClassifier",
    "MixedPrecision",
    "ProgressLine",
    "PseudoLabelClassifier",
    "RandAugmentCutout",
    "SemiSupervisedLog",
    "SmallCNN",
    "WideResNet",
    "confidence_weight",
    "ema_update_",
    "lee_alpha",
    "sigmoid_rampup",
]
