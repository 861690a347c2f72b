"""Acquire: the outside world in, records out.

Contract: each source turns one kind of input (pcap, live interface, EVE JSON, Zeek logs, auth
logs, public dataset files) into flow tables (``records.flow.FLOW_SCHEMA``), ``LabeledTable``
rows, or ``LogEvent`` records. Bad input raises ``swarmguard.errors.InputError`` naming the file
and line or packet; rows are skipped only on request and then counted in a ``SkipLog``.
"""

__all__: list[str] = []
