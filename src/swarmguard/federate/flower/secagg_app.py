"""SecAgg+ protection in deployment, on Flower's older wiring (the only place Flower 1.42 has it).

Flower 1.42 implements SecAgg+ (Bell et al., "Secure single-server aggregation with
(poly)logarithmic overhead", CCS 2020) only as ``flwr.server.workflow.SecAggPlusWorkflow`` with
the client mod ``flwr.client.mod.secaggplus_mod``, which run inside the legacy
``LegacyContext`` / ``NumPyClient`` wiring, not on the message API our main ServerApp uses
(``server_app.py``). So ``protect=secagg`` runs these two apps instead:

* ``server_app``: asks every agent for its feature statistics and weight factors (legacy
  ``get_properties``), merges the statistics, gets the initial parameters from one agent, then runs
  FedAvg rounds through ``DefaultWorkflow(fit_workflow=SecAggPlusWorkflow(...))``: agents' weighted,
  quantised, masked updates are summed and only the sum is unmasked. The weight of an agent is
  its ``num_examples``, which it reports as ``n q m`` (rows x quality x importance). Finally
  agents pick thresholds and save the model (``get_properties`` again).
* ``client_app``: the same ``FederatedSite`` logic as a ``NumPyClient`` behind
  ``secaggplus_mod``.

SecAgg+ clips parameters to ``[-clipping_range, clipping_range]`` (8) and quantises them
(resolution about 4e-6), so the result differs slightly from plaintext FedAvg.
"""

from __future__ import annotations

import io
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import Context, Message
from flwr.client import ClientApp, NumPyClient
from flwr.client.mod import secaggplus_mod
from flwr.common import GetPropertiesIns, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.compat.common.recorddict_compat import (
    getpropertiesins_to_recorddict,
    recorddict_to_getpropertiesres,
)
from flwr.server import LegacyContext, ServerApp, ServerConfig
from flwr.server.strategy import FedAvg
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
from flwr.serverapp import Grid

from swarmguard.features.stats import FeatureStats
from swarmguard.federate.flower.client_app import make_site
from swarmguard.federate.flower.records import as_float, as_int
from swarmguard.federate.strategies.base import Parameters

__all__ = ["client_app", "server_app"]

log = logging.getLogger(__name__)

_GET_PROPERTIES = "get_properties"


def _stats_json(stats: FeatureStats) -> str:
    return json.dumps(
        {
            "format": stats.format,
            "numeric_columns": list(stats.numeric_columns),
            "categorical_columns": list(stats.categorical_columns),
            "rows": stats.rows,
            "count": stats.count.tolist(),
            "total": stats.total.tolist(),
            "total_sq": stats.total_sq.tolist(),
            "category_counts": stats.category_counts,
        }
    )


def _stats_from_json(text: str) -> FeatureStats:
    d = json.loads(text)
    return FeatureStats(
        format=d["format"],
        numeric_columns=tuple(d["numeric_columns"]),
        categorical_columns=tuple(d["categorical_columns"]),
        rows=int(d["rows"]),
        count=np.asarray(d["count"], dtype=np.float64),
        total=np.asarray(d["total"], dtype=np.float64),
        total_sq=np.asarray(d["total_sq"], dtype=np.float64),
        category_counts=d["category_counts"],
    )


def _pack(params: Parameters) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, *params)
    return buf.getvalue()


def _unpack(data: bytes) -> Parameters:
    with np.load(io.BytesIO(data)) as z:
        return [np.asarray(z[f"arr_{i}"], dtype=np.float64) for i in range(len(z.files))]


class _SiteClient(NumPyClient):
    def __init__(self, context: Context) -> None:
        self.context = context
        self.site = make_site(context)

    def get_properties(self, config: dict[str, Any]) -> dict[str, Any]:
        step = str(config["step"])
        if step == "stats":
            return {
                "stats": _stats_json(self.site.stats()),
                "weight": self.site.rows.num_rows * self.site.quality * self.site.importance,
            }
        self.site.prepare(_stats_from_json(str(config["stats"])))
        if step == "init":
            return {"params": _pack(self.site.detector.get_parameters())}
        params = _unpack(bytes(config["params"]))
        if step == "threshold":
            return {"threshold": self.site.threshold(params)}
        if step == "finish":
            self.site.detector.set_parameters(params)
            self.site.detector.threshold = as_float(config["threshold"])
            out = self.context.node_config.get("model-out")
            if isinstance(out, str) and out:
                self.site.detector.save(Path(out))
            return {"saved": 1}
        raise ValueError(f"unknown step {step!r}")

    def fit(
        self, parameters: list[np.ndarray], config: dict[str, Any]
    ) -> tuple[list[np.ndarray], int, dict[str, Any]]:
        self.site.prepare(_stats_from_json(str(config["stats"])))
        update = self.site.fit_round(
            [np.asarray(p, np.float64) for p in parameters], as_int(config["epochs"])
        )
        weight = max(1, round(update.raw_weight))
        return update.parameters, weight, {}


client_app = ClientApp(
    client_fn=lambda context: _SiteClient(context).to_client(), mods=[secaggplus_mod]
)

server_app = ServerApp()


def _properties(
    grid: Grid, nodes: list[int], configs: dict[int, dict[str, Any]], timeout: float
) -> dict[int, dict[str, Any]]:
    messages = [
        Message(
            content=getpropertiesins_to_recorddict(GetPropertiesIns(config=configs[n])),
            message_type=_GET_PROPERTIES,
            dst_node_id=n,
        )
        for n in nodes
    ]
    out: dict[int, dict[str, Any]] = {}
    for reply in grid.send_and_receive(messages, timeout=timeout):
        if reply.has_error():
            raise RuntimeError(f"agent {reply.metadata.src_node_id} failed: {reply.error.reason}")
        res = recorddict_to_getpropertiesres(reply.content)
        out[reply.metadata.src_node_id] = dict(res.properties)
    if set(out) != set(nodes):
        raise RuntimeError(f"no reply from agents {sorted(set(nodes) - set(out))}")
    return out


@server_app.main()
def _main(grid: Grid, context: Context) -> None:
    cfg = context.run_config
    clients, rounds = as_int(cfg["clients"]), as_int(cfg["rounds"])
    epochs = as_int(cfg.get("epochs", 1))
    timeout = as_float(cfg.get("round-timeout-s", 600))
    report_path = Path(str(cfg["report"]))
    deadline = time.monotonic() + as_float(cfg.get("node-wait-s", 120))
    while len(list(grid.get_node_ids())) < clients:
        if time.monotonic() > deadline:
            raise RuntimeError(f"fewer than {clients} agents connected")
        time.sleep(0.5)
    nodes = sorted(grid.get_node_ids())[:clients]
    props = _properties(grid, nodes, {n: {"step": "stats"} for n in nodes}, timeout)
    merged = _stats_json(
        FeatureStats.merge([_stats_from_json(str(props[n]["stats"])) for n in nodes])
    )
    total_weight = float(sum(as_float(props[n]["weight"]) for n in nodes))
    init = _properties(grid, nodes[:1], {nodes[0]: {"step": "init", "stats": merged}}, timeout)
    initial = _unpack(bytes(init[nodes[0]]["params"]))
    strategy = FedAvg(
        fraction_fit=1.0,
        fraction_evaluate=0.0,
        min_fit_clients=clients,
        min_available_clients=clients,
        initial_parameters=ndarrays_to_parameters(initial),
        on_fit_config_fn=lambda r: {"stats": merged, "epochs": epochs, "round": r},
    )
    legacy = LegacyContext(
        context=context, config=ServerConfig(num_rounds=rounds), strategy=strategy
    )
    start = time.perf_counter()
    workflow = DefaultWorkflow(
        fit_workflow=SecAggPlusWorkflow(
            num_shares=clients,
            reconstruction_threshold=max(2, clients - 1),
            max_weight=max(total_weight * 1.01, 1.0),
            timeout=timeout,
        )
    )
    workflow(grid, legacy)
    seconds = (time.perf_counter() - start) / rounds
    final = parameters_to_ndarrays(_final_parameters(legacy))
    packed = _pack([np.asarray(p, np.float64) for p in final])
    thr = _properties(
        grid,
        nodes,
        {n: {"step": "threshold", "stats": merged, "params": packed} for n in nodes},
        timeout,
    )
    weights = np.array([as_float(props[n]["weight"]) for n in nodes]) / total_weight
    threshold = float(np.dot(weights, [as_float(thr[n]["threshold"]) for n in nodes]))
    _properties(
        grid,
        nodes,
        {
            n: {"step": "finish", "stats": merged, "params": packed, "threshold": threshold}
            for n in nodes
        },
        timeout,
    )
    np.save(report_path.with_suffix(".global.npy"), np.concatenate([np.ravel(p) for p in final]))
    report = {
        "protect": "secagg",
        "clients": clients,
        "rounds": rounds,
        "nodes": nodes,
        "weights": weights.tolist(),
        "threshold": threshold,
        "seconds_per_round": seconds,
        "coordinator_holds_secret_key": False,
    }
    report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def _final_parameters(legacy: LegacyContext) -> Any:
    from flwr.compat.common.recorddict_compat import arrayrecord_to_parameters
    from flwr.server.workflow.constant import MAIN_PARAMS_RECORD

    return arrayrecord_to_parameters(
        legacy.state.array_records[MAIN_PARAMS_RECORD], keep_input=True
    )
