"""Simulated agents on Flower's simulation engine: ``swarmguard federate simulate --engine flower``.

Runs the project's own ServerApp (``server_app.main``) and ClientApp (``client_app.query`` /
``client_app.train``) under Flower 1.42's simulation runtime (``flwr.simulation.run_simulation``,
Ray backend, ``flwr[simulation]``): the ServerApp in a thread of this process, each simulated
SuperNode's ClientApp in a pool of Ray actors (one CPU each, ``num_cpus`` CPUs in all).

``run_simulation`` gives every simulated SuperNode only ``partition-id`` and ``num-partitions``
as node config and the apps an empty run config, so two thin wrapper apps add what a real
deployment gets from ``flwr run`` and ``flower-supernode --node-config``: the run config
(detector, rounds, protection, ...) and, per partition, the node config of that agent (``data``:
its own partition file, ``format``, ``importance``, ``secret-key`` with CKKS, ``model-out`` for
partition 0). The partition files are copies of the partition's original lines (each row's
``uid`` is ``<file>:<line>`` and ``LabeledTable.sources`` names the files), so each ClientApp
reads its own rows with ``load_dataset``, as a deployed agent does; nothing else is shared.

Everything goes to one temporary directory that is removed afterwards: partition files, keys,
the coordinator's report, the final model, and Ray's own files (``_temp_dir``); Ray is shut down
(``ray.shutdown``) even when the run fails, and ``PYTHONPATH``, which Flower's Ray backend sets in
this process, is restored.

Flower 1.42 marks ``run_simulation`` deprecated in favour of ``flwr run`` with a simulation
federation; it is the only in-Python entry point of the runtime in 1.42 and is used here so the
partitions, the keys and the report stay in-process-controlled temporary files.

Examples
--------
>>> _uid_parts("KDDTrain+.txt:12")
('KDDTrain+.txt', 12)
"""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swarmguard.features.stats import FeatureStats
from swarmguard.federate.crypto.keys import PUBLIC_KEY_FILE, SECRET_KEY_FILE, write_keys
from swarmguard.federate.site import FederatedSite
from swarmguard.federate.strategies import flatten

if TYPE_CHECKING:
    from flwr.app import Context, Message
    from flwr.clientapp import ClientApp
    from flwr.serverapp import Grid, ServerApp

    from swarmguard.federate.crypto.ckks import CkksKeys
    from swarmguard.federate.simulation import FederationConfig, FederationResult, RoundStats

__all__ = ["run_flower_simulation", "write_partitions"]

log = logging.getLogger(__name__)

RunConfig = dict[str, bool | float | int | str]

# Ray 2.55 warns (FutureWarning) that it will stop overriding CUDA_VISIBLE_DEVICES for actors
# with num_gpus=0 unless this is set; we ask for no GPUs, so opt in to the future behaviour.
# Ray's usage statistics stay off.
_RAY_ENV = {"RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def _uid_parts(uid: str) -> tuple[str, int]:
    name, _, line = uid.rpartition(":")
    if not name or not line.isdigit():
        raise ValueError(f"row uid {uid!r} is not '<file>:<line>'; the flower engine needs rows")
    return name, int(line)


def _header_lines(lines: list[bytes], first: int, name: str, fmt: str) -> int:
    """How many of the lines before data line ``first`` are a header (not rows of any site)."""
    if first == 1:
        return 0
    from swarmguard.acquire.datasets import load_dataset

    with tempfile.TemporaryDirectory(prefix="sg-head-") as tmp:
        probe = Path(tmp) / name
        probe.write_bytes(b"".join(lines[:first]))  # the lines before, and one known data line
        rows = load_dataset(probe, fmt)
    return _uid_parts(str(rows.table.column("uid")[0].as_py()))[1] - 1


def write_partitions(sites: list[FederatedSite], directory: Path) -> list[Path]:
    """Write each site's rows as copies of their original lines; return one directory per site.

    A site's rows from one source file keep their order (rows from several files come back
    grouped by file when read with ``load_dataset``); each written file starts with its
    source's header lines, if any (found by reading the lines before the first data line any
    site uses, with the dataset's own loader).

    Raises
    ------
    ValueError
        If rows do not come from files (no ``<file>:<line>`` uid or unknown source).
    """
    per_site: list[dict[str, list[int]]] = []
    first: dict[str, int] = {}
    sources: dict[str, Path] = {}
    for site in sites:
        for src in site.rows.sources:
            sources[Path(src).name] = Path(src)
        wanted: dict[str, list[int]] = defaultdict(list)
        for uid in site.rows.table.column("uid").to_pylist():
            name, line = _uid_parts(str(uid))
            wanted[name].append(line)
            first[name] = min(first.get(name, line), line)
        per_site.append(wanted)
    missing = sorted(set(first) - set(sources))
    if missing:
        raise ValueError(f"rows name files that are not among their sources: {missing[:3]}")
    raw = {name: sources[name].read_bytes().splitlines(keepends=True) for name in first}
    fmt = sites[0].rows.format
    header = {name: _header_lines(raw[name], first[name], name, fmt) for name in first}
    out: list[Path] = []
    for i, wanted in enumerate(per_site):
        site_dir = directory / f"agent-{i}"
        site_dir.mkdir(parents=True)
        for name, lines in wanted.items():
            text = raw[name]
            with (site_dir / name).open("wb") as dst:
                dst.writelines(text[: header[name]])
                dst.writelines(text[n - 1] for n in lines)
        out.append(site_dir)
    return out


@dataclass(frozen=True)
class _Spec:
    run_config: RunConfig
    node_configs: tuple[RunConfig, ...]
    workdir: str


def _node_context(spec: _Spec, context: Context) -> Context:
    from flwr.app import Context

    pid = int(context.node_config["partition-id"])
    marker = Path(spec.workdir) / f"node-{pid}.id"
    if not marker.exists():
        marker.write_text(str(context.node_id), encoding="utf-8")
    return Context(
        run_id=context.run_id,
        node_id=context.node_id,
        node_config={**context.node_config, **spec.node_configs[pid]},
        state=context.state,
        run_config=dict(spec.run_config),
    )


def _client_app(spec: _Spec) -> ClientApp:
    from flwr.clientapp import ClientApp

    from swarmguard.federate.flower import client_app

    app = ClientApp()

    @app.query()
    def query(msg: Message, context: Context) -> Message:
        return client_app.query(msg, _node_context(spec, context))

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        return client_app.train(msg, _node_context(spec, context))

    del query, train
    return app


def _server_app(run_config: RunConfig) -> ServerApp:
    from flwr.app import Context
    from flwr.serverapp import ServerApp

    from swarmguard.federate.flower import server_app

    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        server_app.main(
            grid,
            Context(
                run_id=context.run_id,
                node_id=context.node_id,
                node_config=context.node_config,
                state=context.state,
                run_config=dict(run_config),
            ),
        )

    del main
    return app


def _run(spec: _Spec, clients: int, num_cpus: int, ray_dir: Path) -> None:
    import ray
    from flwr.simulation import run_simulation

    backend_config: dict[str, Any] = {
        "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
        "init_args": {
            "num_cpus": num_cpus,
            "num_gpus": 0,
            "_temp_dir": str(ray_dir),
            "include_dashboard": False,
            "log_to_driver": False,
        },
    }
    saved = {k: os.environ.get(k) for k in (*_RAY_ENV, "PYTHONPATH")}
    os.environ.update(_RAY_ENV)
    # Flower logs at DEBUG and warns that run_simulation is deprecated (see the module's
    # docstring); keep its log to errors unless this module logs at DEBUG (--verbose).
    flwr_log = logging.getLogger("flwr")
    flwr_level = flwr_log.level
    if not log.isEnabledFor(logging.DEBUG):
        flwr_log.setLevel(logging.ERROR)
    # Ray starts its daemons with /dev/null handles and Popen objects it later drops without
    # closing or waiting (ResourceWarning when they are freed, during the run or at shutdown);
    # those are Ray's, so ResourceWarning is ignored for the run (the filter is process-wide
    # while it lasts) and the leftovers are collected before it ends.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            run_simulation(
                server_app=_server_app(spec.run_config),
                client_app=_client_app(spec),
                num_supernodes=clients,
                backend_config=backend_config,
            )
        finally:
            ray.shutdown()
            gc.collect()
            flwr_log.setLevel(flwr_level)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def run_flower_simulation(
    sites: list[FederatedSite],
    config: FederationConfig,
    *,
    keys: CkksKeys | None = None,
    on_round: Callable[[RoundStats], None] | None = None,
    num_cpus: int = 2,
) -> FederationResult:
    """Run ``config`` over ``sites`` on Flower's simulation engine; same result as in-process.

    ``seconds`` per round are the coordinator's wall time per round (send, agents train and
    encrypt in parallel Ray actors, aggregate); ``train_seconds`` equals it and
    ``protect_seconds`` is 0, since encryption happens inside the ClientApps and is not timed
    apart. ``extra`` holds ``engine`` (``"flower"``) and, with CKKS, ``ciphertexts_per_update``.
    Round 1 sends the initial model in the clear (there is no encrypted aggregate yet), so with
    CKKS ``bytes_down`` of round 1 is the plaintext size.
    """
    from swarmguard.federate.simulation import FederationResult, RoundStats

    config.validate()
    if config.protect not in ("none", "ckks"):
        raise ValueError(
            f"--engine flower runs protect none or ckks, not {config.protect} "
            "(SecAgg+ lives in Flower's older wiring); use --engine in-process"
        )
    if config.poisoned:
        raise ValueError("poisoned agents are simulated by --engine in-process only")
    if len(sites) != config.clients:
        raise ValueError(f"{len(sites)} sites for {config.clients} clients")
    fmt = sites[0].rows.format
    workdir = Path(tempfile.mkdtemp(prefix="sg-flwr-"))
    try:
        parts = write_partitions(sites, workdir / "parts")
        report = workdir / "report.json"
        model_out = workdir / "model-0.bin"
        run_config: RunConfig = {
            "detector": config.detector,
            "clients": config.clients,
            "rounds": config.rounds,
            "epochs": config.local_epochs,
            "protect": config.protect,
            "strategy": config.strategy,
            "proximal-mu": config.proximal_mu,
            "seed": config.seed,
            "report": str(report),
            "node-wait-s": 60,
        }
        secret = ""
        if config.protect == "ckks":
            key_dir = workdir / "keys"
            if keys is None:
                files = write_keys(key_dir, config.ckks)
                secret, public = str(files.secret), str(files.public)
            else:
                key_dir.mkdir()
                (key_dir / SECRET_KEY_FILE).write_bytes(keys.secret)
                (key_dir / PUBLIC_KEY_FILE).write_bytes(keys.public)
                secret, public = str(key_dir / SECRET_KEY_FILE), str(key_dir / PUBLIC_KEY_FILE)
            run_config["public-key"] = public
        node_configs: list[RunConfig] = []
        for i, (site, part) in enumerate(zip(sites, parts, strict=True)):
            node: RunConfig = {"data": str(part), "format": fmt, "importance": site.importance}
            if secret:
                node["secret-key"] = secret
            if i == 0:
                node["model-out"] = str(model_out)
            node_configs.append(node)
        spec = _Spec(run_config, tuple(node_configs), str(workdir))
        start = time.perf_counter()
        _run(spec, config.clients, num_cpus, workdir / "ray")
        engine_seconds = time.perf_counter() - start
        if not report.exists():
            raise RuntimeError("the Flower simulation ended without the coordinator's report")
        data = json.loads(report.read_text(encoding="utf-8"))
        node_ids = [int((workdir / f"node-{i}.id").read_text()) for i in range(config.clients)]
        by_node = dict(zip(data["nodes"], data["weights"], strict=True))
        weights = [float(by_node[n]) for n in node_ids]
        final = type(sites[0].detector).load(model_out)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    sites[0].detector = final
    params = final.get_parameters()
    rounds = [
        RoundStats(
            round=int(p["round"]),
            seconds=float(p["seconds"]),
            train_seconds=float(p["seconds"]),
            protect_seconds=0.0,
            bytes_up=int(p["bytes_up"]),
            bytes_down=int(p["bytes_down"]),
        )
        for p in data["per_round"]
    ]
    for r in rounds:
        log.info(
            "round %d: %.2f s, %d bytes up, %d down", r.round, r.seconds, r.bytes_up, r.bytes_down
        )
        if on_round is not None:
            on_round(r)
    site_stats: list[FeatureStats] = [s.stats() for s in sites]
    log.info("flower simulation: %.2f s in all, Ray start and stop included", engine_seconds)
    extra: dict[str, Any] = {"engine": "flower"}
    if config.protect == "ckks":
        extra["ciphertexts_per_update"] = int(data["ciphertexts_per_update"])
    return FederationResult(
        parameters=params,
        threshold=float(final.threshold),
        rounds=rounds,
        weights=weights,
        qualities=[s.quality for s in sites],
        num_parameters=int(flatten(params)[0].size),
        setup_bytes=sum(8 * 3 * len(s.count) for s in site_stats),
        extra=extra,
    )
