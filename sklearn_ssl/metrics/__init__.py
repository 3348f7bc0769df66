"""Scoring that ignores unlabelled rows (``y == -1``)."""

from ._scorer import LabeledScorer, labeled_score, make_labeled_scorer

__all__ = ["LabeledScorer", "labeled_score", "make_labeled_scorer"]
