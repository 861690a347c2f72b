"""Flower ClientApp: an agent trains on its own rows and sends (encrypted) weighted updates.

Runs inside a SuperNode (``swarmguard agent --federate``). The node config names the agent's data
and key files, which never leave the agent:

``data``
    the agent's training file or directory (a dataset file, read with ``load_dataset``);
``format``
    its format (default ``auto``);
``secret-key``
    the CKKS secret context (``ckks-secret.ctx``), needed when the run uses ``protect=ckks``;
``importance``
    this site's configured importance (default 1.0);
``model-out``
    where the final global model is saved (optional);
``debug-dir``
    tests only: writes this agent's plaintext weighted update and the decrypted aggregate there,
    so a test can check the encrypted sum against the plaintext one. Never set it in production.

Messages (``message_type`` / ``step``): ``query/stats`` returns the agent's feature statistics,
row count, data-quality score and importance; ``query/init`` the initial parameters after
preparing from the merged statistics; ``train`` trains from the global parameters (plaintext or
the previous round's encrypted aggregate, which the agent decrypts) and returns its parameters,
in the clear or multiplied by its coefficient and encrypted; ``query/threshold`` the threshold of
the global model on the agent's rows; ``query/finish`` saves the final model. A ClientApp process
may be started per message, so every message carries the merged statistics and the agent rebuilds
its detector from them (same seed: same preprocessing and shapes on every agent).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from swarmguard.acquire.datasets import load_dataset
from swarmguard.federate.crypto.ckks import decrypt_vector, encrypt_vector, load_context
from swarmguard.federate.flower.records import (
    as_float,
    as_int,
    encrypted_from,
    encrypted_record,
    params_from,
    params_record,
    stats_from,
    stats_records,
)
from swarmguard.federate.site import FederatedSite, make_detector
from swarmguard.federate.strategies.base import Parameters, flatten, unflatten
from swarmguard.records.dataset import LabeledTable

__all__ = ["app", "make_site"]

log = logging.getLogger(__name__)

app = ClientApp()


def _rows(context: Context) -> LabeledTable:
    data = context.node_config.get("data")
    if not isinstance(data, str) or not data:
        raise ValueError("the SuperNode needs --node-config 'data=\"PATH\"'")
    fmt = str(context.node_config.get("format", "auto"))
    return load_dataset(Path(data), fmt)


def make_site(context: Context) -> FederatedSite:
    """The agent's site: its rows (node config ``data``) and a fresh detector (run config)."""
    cfg = context.run_config
    importance = as_float(context.node_config.get("importance", 1.0))
    mu = as_float(cfg.get("proximal-mu", 0.0)) if cfg.get("strategy") == "fedprox" else 0.0
    detector = make_detector(str(cfg["detector"]), as_int(cfg.get("seed", 0)))
    return FederatedSite(
        f"node-{context.node_id}", _rows(context), detector, importance=importance, proximal_mu=mu
    )


def _secret(context: Context) -> Any:
    path = context.node_config.get("secret-key")
    if not isinstance(path, str) or not path:
        raise ValueError("protect=ckks needs --node-config 'secret-key=\"ckks-secret.ctx\"'")
    return load_context(Path(path))


def _prepared(site: FederatedSite, msg: Message) -> None:
    stats = stats_from(
        msg.content.array_records["stats"], msg.content.config_records["stats-config"]
    )
    site.prepare(stats)


def _global(context: Context, msg: Message, shapes: list[tuple[int, ...]]) -> Parameters:
    if "global" in msg.content.array_records:
        return params_from(msg.content.array_records["global"])
    enc = encrypted_from(msg.content.config_records["global-enc"])
    vector = decrypt_vector(_secret(context), enc)
    debug = context.node_config.get("debug-dir")
    if isinstance(debug, str) and debug:
        rnd = as_int(msg.content.config_records["config"]["aggregate-of-round"])
        np.save(Path(debug) / f"aggregate-r{rnd}-{context.node_id}.npy", vector)
    return unflatten(vector, shapes)


@app.query()
def query(msg: Message, context: Context) -> Message:
    """Statistics, initial parameters, thresholds and the final save."""
    step = str(msg.content.config_records["config"]["step"])
    site = make_site(context)
    if step == "stats":
        arrays, config = stats_records(site.stats())
        info = MetricRecord(
            {"rows": site.rows.num_rows, "quality": site.quality, "importance": site.importance}
        )
        content = RecordDict({"stats": arrays, "stats-config": config, "info": info})
        return Message(content=content, reply_to=msg)
    _prepared(site, msg)
    shapes = flatten(site.detector.get_parameters())[1]
    if step == "init":
        return Message(
            content=RecordDict({"params": params_record(site.detector.get_parameters())}),
            reply_to=msg,
        )
    params = _global(context, msg, shapes)
    if step == "threshold":
        value = site.threshold(params)
        return Message(
            content=RecordDict({"info": MetricRecord({"threshold": value})}), reply_to=msg
        )
    if step == "finish":
        site.detector.set_parameters(params)
        site.detector.threshold = as_float(msg.content.config_records["config"]["threshold"])
        out = context.node_config.get("model-out")
        if isinstance(out, str) and out:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            site.detector.save(Path(out))
        return Message(content=RecordDict({"info": MetricRecord({"saved": 1})}), reply_to=msg)
    raise ValueError(f"unknown query step {step!r}")


@app.train()
def train(msg: Message, context: Context) -> Message:
    """One round of local training; reply with plaintext or encrypted weighted parameters."""
    cfg = msg.content.config_records["config"]
    site = make_site(context)
    _prepared(site, msg)
    shapes = flatten(site.detector.get_parameters())[1]
    params = _global(context, msg, shapes)
    update = site.fit_round(params, as_int(cfg["epochs"]))
    info = MetricRecord({"num-samples": update.num_samples, "quality": update.quality})
    if cfg["protect"] == "ckks":
        coef = as_float(cfg["coefficient"])
        weighted = coef * flatten(update.parameters)[0]
        debug = context.node_config.get("debug-dir")
        if isinstance(debug, str) and debug:
            np.save(
                Path(debug) / f"weighted-r{as_int(cfg['round'])}-{context.node_id}.npy", weighted
            )
            (Path(debug) / f"secret-{context.node_id}.json").write_text(
                json.dumps({"holds_secret_key": True}), encoding="utf-8"
            )
        enc = encrypt_vector(_secret(context), weighted)
        content = RecordDict({"update-enc": encrypted_record(enc), "info": info})
    else:
        content = RecordDict({"update": params_record(update.parameters), "info": info})
    return Message(content=content, reply_to=msg)
