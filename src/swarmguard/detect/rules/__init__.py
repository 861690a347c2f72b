"""Rule engine: Snort / Suricata rules over packets, TCP streams and HTTP; flow threshold rules.

Stage contract: takes decoded packets (``acquire.rawpackets``) or flow tables / dataset rows and
returns ``Alert`` records (EVE shape) or per-row scores. ``parser`` reads the rule language,
``engine`` evaluates it, ``flowrules`` holds the threshold rules over flow batches, ``verify``
runs suricata-verify style test folders.
"""

from swarmguard.detect.rules.engine import EngineConfig, RuleEngine
from swarmguard.detect.rules.model import Rule, RuleError
from swarmguard.detect.rules.parser import (
    RuleLoadReport,
    format_rule,
    parse_rule,
    parse_rules,
    parse_rules_text,
)

__all__ = [
    "EngineConfig",
    "Rule",
    "RuleEngine",
    "RuleError",
    "RuleLoadReport",
    "format_rule",
    "parse_rule",
    "parse_rules",
    "parse_rules_text",
]
