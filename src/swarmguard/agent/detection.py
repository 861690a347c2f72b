"""The agent's detectors, built from its configuration: packet inspection and flow scoring.

``PacketInspector`` runs, on each packet, the per-source counters (``agent.counters``) and
the signature rule engine (``detect.rules``); ``FlowInspector`` runs the flow threshold rules
and a learned detector (any name in ``detect.base.DETECTORS``, loaded from its model file) over
batches of metered flows. Both return ``Alert`` records and hold no response logic.

Examples
--------
>>> from swarmguard.agent.config import DetectorsConfig
>>> insp = PacketInspector(DetectorsConfig(rules=False), sensor_id="edge1")
>>> [type(d).__name__ for d in insp.parts()]
['PacketCounters']
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa

from swarmguard.acquire.rawpackets import Packet
from swarmguard.agent.config import DetectorsConfig
from swarmguard.agent.counters import PacketCounters, load_packet_rules
from swarmguard.detect.alerts import alerts_from_flows
from swarmguard.detect.base import DETECTORS, Detector
from swarmguard.detect.persist import model_detector_name
from swarmguard.detect.rules.classification import CLASSIFICATIONS
from swarmguard.detect.rules.engine import EngineConfig, RuleEngine
from swarmguard.detect.rules.flowrules import evaluate_flow_rules, load_flow_rules
from swarmguard.detect.rules.parser import RuleLoadReport, parse_rules
from swarmguard.detect.rules.variables import RuleVars
from swarmguard.features.mapping import flows_as_table, flows_to_dataset
from swarmguard.records.alert import Alert, AlertInfo, Endpoint

__all__ = ["FlowInspector", "PacketInspector", "default_rules_path"]

logger = logging.getLogger(__name__)


def default_rules_path() -> Path:
    """The shipped Suricata-syntax rule set."""
    from importlib import resources

    return Path(str(resources.files("swarmguard.detect.rules") / "default" / "swarmguard.rules"))


class PacketInspector:
    """Counters and signature rules over single packets."""

    def __init__(self, cfg: DetectorsConfig, *, sensor_id: str) -> None:
        self.counters = (
            PacketCounters(load_packet_rules(cfg.packet_rules_file), sensor_id=sensor_id)
            if cfg.packet_rules
            else None
        )
        self.engine: RuleEngine | None = None
        if cfg.rules:
            variables = RuleVars()
            if cfg.home_net:
                variables.addresses["HOME_NET"] = "[" + ",".join(cfg.home_net) + "]"
            report = RuleLoadReport()
            path = cfg.rules_file or default_rules_path()
            rules = parse_rules(path, variables, skip_unsupported=True, report=report)
            if report.skipped:
                logger.warning("%s: %s", path, report.summary())
            self.engine = RuleEngine(
                rules, EngineConfig(midstream=True, sensor_id=sensor_id, eve_ethernet=False)
            )

    def parts(self) -> list[object]:
        """The detectors in use, in the order they see a packet."""
        return [d for d in (self.counters, self.engine) if d is not None]

    def inspect(self, p: Packet) -> list[Alert]:
        """Alerts raised by one packet (counters first: they are the fast path)."""
        out: list[Alert] = []
        if self.counters is not None:
            out.extend(self.counters.observe(p))
        if self.engine is not None:
            out.extend(self.engine.process(p))
        return out


class FlowInspector:
    """Flow threshold rules and a learned detector over batches of metered flows."""

    def __init__(self, cfg: DetectorsConfig, *, sensor_id: str) -> None:
        self.sensor_id = sensor_id
        self.flow_rules = load_flow_rules() if cfg.flow_rules else []
        self.detector: Detector | None = None
        self.threshold = cfg.threshold
        if cfg.learned and cfg.model is not None:
            saved = model_detector_name(cfg.model)
            if saved != cfg.learned:
                raise ValueError(f"{cfg.model} holds a '{saved}' model, not '{cfg.learned}'")
            self.detector = DETECTORS.get(saved).load(cfg.model)

    @property
    def enabled(self) -> bool:
        """Whether anything looks at flows."""
        return bool(self.flow_rules) or self.detector is not None

    def inspect(self, flows: pa.Table) -> list[Alert]:
        """Alerts over one batch of finished flows."""
        if flows.num_rows == 0:
            return []
        out = self._rule_alerts(flows) if self.flow_rules else []
        if self.detector is not None:
            det = self.detector
            fmt = getattr(det, "format", "flow")
            rows = flows_as_table(flows) if fmt == "flow" else flows_to_dataset(flows, fmt)
            scores = det.score(rows)
            cut = (
                float(getattr(det, "threshold", 0.5)) if self.threshold is None else self.threshold
            )
            out.extend(
                alerts_from_flows(flows, scores, cut, detector=det.name, sensor_id=self.sensor_id)
            )
        return out

    def _rule_alerts(self, flows: pa.Table) -> list[Alert]:
        """One alert per rule and source in the batch, citing the flows that fired."""
        hits = evaluate_flow_rules(self.flow_rules, flows)
        by_sid = {r.sid: r for r in self.flow_rules}
        cols = flows.select(["ts", "uid", "src_ip", "dest_ip", "dest_port", "proto"]).to_pylist()
        out: list[Alert] = []
        for sid, mask in sorted(hits.items()):
            rule = by_sid[sid]
            groups: dict[str, list[int]] = defaultdict(list)
            for i in np.flatnonzero(mask).tolist():
                groups[str(cols[i]["src_ip"])].append(i)
            category, severity = CLASSIFICATIONS[rule.classtype]
            for _src, rows in groups.items():
                last = cols[rows[-1]]
                out.append(
                    Alert(
                        ts=last["ts"],
                        sensor_id=self.sensor_id,
                        src_ip=last["src_ip"],
                        dest_ip=last["dest_ip"],
                        dest_port=last["dest_port"],
                        proto=last["proto"],
                        alert=AlertInfo(
                            signature_id=sid,
                            signature=rule.msg,
                            category=category,
                            severity=severity,
                            metadata={"family": [rule.family]},
                            target=(
                                Endpoint(ip=str(last["dest_ip"]))
                                if rule.aggregates_sources and last["dest_ip"]
                                else None
                            ),
                        ),
                        detector="rules",
                        score=1.0,
                        evidence=[str(cols[i]["uid"]) for i in rows[:100]],
                    )
                )
        return out
