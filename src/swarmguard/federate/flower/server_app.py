"""Flower ServerApp: the coordinator's side of federated training, on Flower's message API.

Runs inside the SuperLink (``swarmguard coordinator --federate``). The run config
(``swarmguard.federate.flower.deploy.write_app``) sets ``detector``, ``clients``, ``rounds``,
``epochs``, ``protect`` (``none`` or ``ckks``), ``strategy``, ``seed``, ``public-key`` (the CKKS
*public* context; the coordinator never gets the secret one) and ``report`` (a JSON file the
coordinator writes: rounds, bytes, seconds, weights, and whether its context held a secret key).

Flow: wait for ``clients`` SuperNodes; ask each for feature statistics, rows, quality and
importance; merge the statistics (federated standardisation) and fix the aggregation weights
``n_i q_i m_i``; get the initial parameters from one agent (they depend only on the merged
statistics and the seed); then each round send every agent the global model (plaintext, or the
previous round's encrypted aggregate) and its coefficient, and combine the replies: with
``ckks`` by adding ciphertexts under the public context, otherwise with the configured strategy
(robust rules included). Finally agents choose thresholds on their own rows, the coordinator
averages them with the weights and tells every agent to save the final model.

SecAgg+ is not on this message-level protocol: Flower 1.42 offers it only through its older
wiring (``flwr.server.workflow.SecAggPlusWorkflow`` with ``flwr.client.mod.secaggplus_mod``), so
``protect=secagg`` runs the apps in ``secagg_app`` instead.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, RecordDict
from flwr.serverapp import Grid, ServerApp

from swarmguard.features.stats import FeatureStats
from swarmguard.federate.crypto.ckks import (
    EncryptedVector,
    add_encrypted,
    context_is_private,
    load_context,
)
from swarmguard.federate.flower.records import (
    as_float,
    as_int,
    encrypted_from,
    encrypted_record,
    params_from,
    params_record,
    record_nbytes,
    stats_from,
    stats_records,
)
from swarmguard.federate.strategies import ClientUpdate, Parameters, make_strategy

__all__ = ["app"]

log = logging.getLogger(__name__)

app = ServerApp()


def _ask(
    grid: Grid, nodes: list[int], kind: str, contents: dict[int, RecordDict], timeout: float
) -> dict[int, Message]:
    messages = [Message(content=contents[n], message_type=kind, dst_node_id=n) for n in nodes]
    replies = list(grid.send_and_receive(messages, timeout=timeout))
    out: dict[int, Message] = {}
    for reply in replies:
        if reply.has_error():
            raise RuntimeError(f"agent {reply.metadata.src_node_id} failed: {reply.error.reason}")
        out[reply.metadata.src_node_id] = reply
    missing = set(nodes) - set(out)
    if missing:
        raise RuntimeError(f"no reply from agents {sorted(missing)} within {timeout:.0f} s")
    return out


def _wait_for_nodes(grid: Grid, clients: int, wait_s: float) -> list[int]:
    deadline = time.monotonic() + wait_s
    while True:
        nodes = sorted(grid.get_node_ids())
        if len(nodes) >= clients:
            return nodes[:clients]
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(nodes)} of {clients} agents connected in {wait_s:.0f} s")
        time.sleep(0.5)


def _content(
    stats: tuple[ArrayRecord, ConfigRecord],
    config: dict[str, Any],
    global_params: Parameters | None = None,
    global_enc: EncryptedVector | None = None,
) -> RecordDict:
    content = RecordDict(
        {"stats": stats[0], "stats-config": stats[1], "config": ConfigRecord(config)}
    )
    if global_enc is not None:
        content["global-enc"] = encrypted_record(global_enc)
    elif global_params is not None:
        content["global"] = params_record(global_params)
    return content


@app.main()
def main(grid: Grid, context: Context) -> None:
    """Run the federated rounds and write the coordinator's report."""
    cfg = context.run_config
    clients = as_int(cfg["clients"])
    rounds = as_int(cfg["rounds"])
    epochs = as_int(cfg.get("epochs", 1))
    protect = str(cfg.get("protect", "none"))
    timeout = as_float(cfg.get("round-timeout-s", 600))
    report_path = Path(str(cfg["report"]))
    report: dict[str, Any] = {"protect": protect, "clients": clients, "rounds": rounds}
    public_ctx: Any = None
    if protect == "ckks":
        public_ctx = load_context(Path(str(cfg["public-key"])))
        if context_is_private(public_ctx):
            raise RuntimeError("the coordinator was given a secret key; give it ckks-public.ctx")
    elif protect != "none":
        raise ValueError(f"protect={protect} is not available in deployment; use none or ckks")
    report["coordinator_holds_secret_key"] = (
        context_is_private(public_ctx) if public_ctx is not None else False
    )
    strategy = make_strategy(str(cfg.get("strategy", "fedavg")), clients=clients)
    nodes = _wait_for_nodes(grid, clients, as_float(cfg.get("node-wait-s", 120)))
    empty = RecordDict()

    def ask_config(step: str) -> RecordDict:
        return RecordDict({"config": ConfigRecord({"step": step})})

    replies = _ask(grid, nodes, "query", {n: ask_config("stats") for n in nodes}, timeout)
    infos = {n: replies[n].content.metric_records["info"] for n in nodes}
    merged = FeatureStats.merge(
        [
            stats_from(
                replies[n].content.array_records["stats"],
                replies[n].content.config_records["stats-config"],
            )
            for n in nodes
        ]
    )
    stats = stats_records(merged)
    raw = np.array(
        [
            as_float(infos[n]["rows"])
            * as_float(infos[n]["quality"])
            * as_float(infos[n]["importance"])
            for n in nodes
        ]
    )
    weights = raw / raw.sum()
    coef = dict(zip(nodes, weights.tolist(), strict=True))
    init = _ask(grid, nodes[:1], "query", {nodes[0]: _content(stats, {"step": "init"})}, timeout)
    global_params: Parameters = params_from(init[nodes[0]].content.array_records["params"])
    global_enc: EncryptedVector | None = None
    per_round: list[dict[str, Any]] = []
    del empty
    for r in range(1, rounds + 1):
        start = time.perf_counter()
        contents = {
            n: _content(
                stats,
                {
                    "round": r,
                    "epochs": epochs,
                    "protect": protect,
                    "coefficient": coef[n],
                    "aggregate-of-round": r - 1,
                },
                global_params if global_enc is None else None,
                global_enc,
            )
            for n in nodes
        }
        down = 0
        for c in contents.values():
            if "global-enc" in c.config_records:
                down += record_nbytes(c.config_records["global-enc"])
            else:
                down += record_nbytes(c.array_records["global"])
        replies = _ask(grid, nodes, "train", contents, timeout)
        if protect == "ckks":
            encs = [encrypted_from(replies[n].content.config_records["update-enc"]) for n in nodes]
            up = sum(e.nbytes for e in encs)
            global_enc = add_encrypted(public_ctx, encs)
        else:
            updates = [
                ClientUpdate(
                    str(n),
                    params_from(replies[n].content.array_records["update"]),
                    as_int(infos[n]["rows"]),
                    as_float(infos[n]["quality"]),
                    as_float(infos[n]["importance"]),
                )
                for n in nodes
            ]
            up = sum(record_nbytes(replies[n].content.array_records["update"]) for n in nodes)
            global_params = strategy.aggregate(updates)
        per_round.append(
            {"round": r, "seconds": time.perf_counter() - start, "bytes_up": up, "bytes_down": down}
        )
        log.info("round %d done", r)
    final = {"aggregate-of-round": rounds}
    thr = _ask(
        grid,
        nodes,
        "query",
        {
            n: _content(
                stats,
                {"step": "threshold", **final},
                global_params if global_enc is None else None,
                global_enc,
            )
            for n in nodes
        },
        timeout,
    )
    threshold = float(
        np.dot(
            weights, [as_float(thr[n].content.metric_records["info"]["threshold"]) for n in nodes]
        )
    )
    _ask(
        grid,
        nodes,
        "query",
        {
            n: _content(
                stats,
                {"step": "finish", "threshold": threshold, **final},
                global_params if global_enc is None else None,
                global_enc,
            )
            for n in nodes
        },
        timeout,
    )
    report.update(
        {
            "nodes": nodes,
            "weights": weights.tolist(),
            "threshold": threshold,
            "per_round": per_round,
            "seconds_per_round": float(np.mean([p["seconds"] for p in per_round])),
            "bytes_per_round": {
                "up": float(np.mean([p["bytes_up"] for p in per_round])),
                "down": float(np.mean([p["bytes_down"] for p in per_round])),
            },
            "ciphertexts_per_update": len(global_enc.chunks) if global_enc is not None else 0,
        }
    )
    if global_enc is None:
        np.save(
            report_path.with_suffix(".global.npy"),
            np.concatenate([p.ravel() for p in global_params]),
        )
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
