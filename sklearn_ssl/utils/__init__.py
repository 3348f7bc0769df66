"""Utilities: the unlabelled marker and input checks."""

from ._labels import UNLABELED, check_semi_supervised_y, is_labeled

__all__ = ["UNLABELED", "check_semi_supervised_y", "is_labeled"]
