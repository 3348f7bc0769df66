"""Self-training (pseudo-labelling) meta-estimators."""

from ._display import SelfTrainingDisplay
from ._schedule import RampSchedule, check_sample_rate
from ._self_training import PseudoLabeler, SelfTrainingWrapper, smooth_weight

__all__ = [
    "PseudoLabeler",
    "RampSchedule",
    "SelfTrainingDisplay",
    "SelfTrainingWrapper",
    "check_sample_rate",
    "smooth_weight",
]
