"""Helpers to build semi-supervised data sets."""

from ._hide import hide_labels

__all__ = ["hide_labels"]
