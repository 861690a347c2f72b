"""Sigma rules over log events: loading, compiling, logsource indexing, alerts.

Stage contract: ``SigmaEngine.from_folder(rules_dir)`` loads a folder of Sigma rules (pySigma
parses and validates each file; this package compiles the detections and conditions into
Python predicates); ``engine.match(events)`` takes ``LogEvent``s and returns ``SigmaHit``s;
``alert_from_hit`` turns each into an EVE ``Alert``. Unsupported constructs raise
``UnsupportedRule`` naming the rule, or are counted with ``skip_unsupported``.
"""

from swarmguard.detect.sigma.alerts import alert_from_hit, event_reference, sigma_signature_id
from swarmguard.detect.sigma.engine import SigmaEngine, SigmaHit
from swarmguard.detect.sigma.errors import UnsupportedRule
from swarmguard.detect.sigma.ruleset import CompiledRule, LoadReport, load_rules

__all__ = [
    "CompiledRule",
    "LoadReport",
    "SigmaEngine",
    "SigmaHit",
    "UnsupportedRule",
    "alert_from_hit",
    "event_reference",
    "load_rules",
    "sigma_signature_id",
]
