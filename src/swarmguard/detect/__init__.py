"""Detect: rows in, attack scores and alerts out.

Contract: every detector implements ``swarmguard.detect.base.Detector`` and is named in
``DETECTORS``; it owns its feature preprocessing (fitted on training data only) and saves it with
the model. Imports records, features and acquire only.
"""

from swarmguard.detect.base import DETECTORS, Detector, SupportsParameters

__all__ = ["DETECTORS", "Detector", "SupportsParameters"]
