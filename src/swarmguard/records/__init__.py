"""Records: the schemas and models that cross stages.

Contract: this package imports nothing else from swarmguard. Flows travel as Arrow tables with
``FLOW_SCHEMA``; datasets as ``LabeledTable``; everything else as a pydantic model with ``ts``,
``uid``, ``sensor_id`` and ``schema_version``.
"""

from swarmguard.records.alert import Alert, AlertInfo
from swarmguard.records.base import RecordModel, new_uid
from swarmguard.records.dataset import IDENTITY_COLUMNS, RESERVED_COLUMNS, LabeledTable
from swarmguard.records.decision import Decision, DecisionReason, Feedback
from swarmguard.records.flow import FLOW_FIELDS, FLOW_SCHEMA, empty_flow_table, validate_flow_table
from swarmguard.records.labels import AttackClass
from swarmguard.records.log import LogEvent

__all__ = [
    "FLOW_FIELDS",
    "FLOW_SCHEMA",
    "IDENTITY_COLUMNS",
    "RESERVED_COLUMNS",
    "Alert",
    "AlertInfo",
    "AttackClass",
    "Decision",
    "DecisionReason",
    "Feedback",
    "LabeledTable",
    "LogEvent",
    "RecordModel",
    "empty_flow_table",
    "new_uid",
    "validate_flow_table",
]
