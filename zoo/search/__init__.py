"""Hyperparameter search beyond a grid: search spaces, an Optuna journal study, Ray Tune trials.

Import cost stays low: optuna and ray are imported when a study or a Ray sweep starts.
"""

from __future__ import annotations

from .space import Dimension, SearchSpace, check_values, override_text, parse_space

__all__ = ["Dimension", "SearchSpace", "parse_space", "check_values", "override_text"]
