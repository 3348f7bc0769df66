"""Utilities: the unlabelled marker, input checks and the class-share signal."""

from ._class_shares import class_share_ratio
from ._labels import UNLABELED, check_semi_supervised_y, is_labeled

__all__ = ["UNLABELED", "check_semi_supervised_y", "class_share_ratio", "is_labeled"]
