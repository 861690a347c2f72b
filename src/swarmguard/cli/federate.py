"""``swarmguard federate``: simulate federated training, make CKKS keys, run the experiment."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from swarmguard.cli.console import guarded, out, setup_logging, spinner
from swarmguard.cli.evaluate import FORMAT_HELP, load_rows, metrics_table
from swarmguard.errors import SkipLog

__all__ = ["federate_app"]

federate_app = typer.Typer(
    help="Federated training of detectors across agents.", no_args_is_help=True
)


def _write(path: Path, obj: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


def _importance(text: str | None, clients: int) -> tuple[float, ...]:
    if not text:
        return ()
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"--importance {text!r}: give comma-separated numbers") from None
    if len(values) != clients:
        raise ValueError(f"--importance has {len(values)} values for {clients} clients")
    return values


@federate_app.command("simulate")
def simulate_command(
    detector: Annotated[str, typer.Option(help="detector with local training, e.g. lstm")],
    train: Annotated[Path, typer.Option(help="training file, or a directory of CSV files")],
    test: Annotated[Path, typer.Option(help="test file, or a directory of CSV files")],
    clients: Annotated[int, typer.Option(help="number of simulated agents")],
    rounds: Annotated[int, typer.Option(help="federated rounds")],
    json_out: Annotated[Path, typer.Option("--json", help="write the result object here")],
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "auto",
    partition: Annotated[str, typer.Option(help="iid, dirichlet:ALPHA or by-class")] = "iid",
    protect: Annotated[str, typer.Option(help="none, ckks or secagg")] = "none",
    strategy: Annotated[
        str, typer.Option(help="fedavg, fedprox, trimmed-mean or krum (robust: --protect none)")
    ] = "fedavg",
    local_epochs: Annotated[int, typer.Option(help="passes over its rows per agent per round")] = 1,
    importance: Annotated[
        str | None, typer.Option(help="comma-separated importance per agent (default all 1)")
    ] = None,
    baselines: Annotated[
        bool, typer.Option(help="also train centralised and local-only baselines")
    ] = True,
    seed: Annotated[int, typer.Option(help="seeds partition, models and masks")] = 0,
    engine: Annotated[
        str,
        typer.Option(
            help="in-process (agents one after the other here) or flower (Flower's simulation "
            "engine on Ray; needs flwr[simulation]; --protect none or ckks)"
        ),
    ] = "in-process",
    latency_samples: Annotated[int, typer.Option(help="single-row latency samples")] = 200,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress, no table")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
) -> None:
    """Train DETECTOR across --clients simulated agents for --rounds rounds; test the result."""
    setup_logging(verbose)
    show = not quiet
    with guarded():
        from swarmguard.federate.experiment import simulate
        from swarmguard.federate.simulation import FederationConfig

        config = FederationConfig(
            detector=detector,
            clients=clients,
            rounds=rounds,
            partition=partition,
            protect=protect,
            strategy=strategy,
            local_epochs=local_epochs,
            importance=_importance(importance, clients),
            seed=seed,
            engine=engine,
        )
        config.validate()
        skip_log = SkipLog()
        train_rows = load_rows(
            train, fmt, skip_bad=False, skip_log=skip_log, show=show, what="training data"
        )
        test_fmt = train_rows.format if fmt == "auto" else fmt
        test_rows = load_rows(
            test, test_fmt, skip_bad=False, skip_log=skip_log, show=show, what="test data"
        )
        with spinner(f"federated {detector} on {train_rows.format}", show) as stage:
            result, _ = simulate(
                train_rows,
                test_rows,
                config,
                baselines=baselines,
                latency_samples=latency_samples,
                on_stage=stage,
            )
        result["train_path"] = str(train)
        result["test_path"] = str(test)
        _write(json_out, result)
        if show:
            out.print(metrics_table(f"federated {detector}", [("global model", result)]))
            line = (
                f"{rounds} rounds, {clients} agents, protect={protect}, engine={engine}: "
                f"{result['seconds_per_round']:.2f} s/round, "
                f"{result['bytes_per_round']['up'] / 1e6:.2f} MB up, "
                f"{result['bytes_per_round']['down'] / 1e6:.2f} MB down per round"
            )
            if baselines:
                line += (
                    f"; F1 federated {result['f1']:.3f}, centralised "
                    f"{result['centralised_f1']:.3f}, local-only {result['local_only_f1']:.3f}"
                )
            out.print(line)


@federate_app.command("keys")
def keys_command(
    out_dir: Annotated[Path, typer.Option("--out", help="directory for the two key files")],
    poly_modulus_degree: Annotated[
        int, typer.Option(help="CKKS ring degree (8192 packs 4096 weights per ciphertext)")
    ] = 8192,
) -> None:
    """Make a CKKS key pair: ckks-secret.ctx for agents, ckks-public.ctx for the coordinator."""
    setup_logging(False)
    with guarded():
        from swarmguard.federate.crypto.ckks import CkksParams
        from swarmguard.federate.crypto.keys import write_keys

        if poly_modulus_degree not in (4096, 8192, 16384, 32768):
            raise ValueError("--poly-modulus-degree must be 4096, 8192, 16384 or 32768")
        files = write_keys(out_dir, CkksParams(poly_modulus_degree=poly_modulus_degree))
        out.print(
            f"secret context (agents only, mode 0600): {files.secret}\n"
            f"public context (coordinator): {files.public}"
        )


@federate_app.command("experiment")
def experiment_command(
    detector: Annotated[str, typer.Option(help="detector with local training, e.g. lstm")],
    train: Annotated[Path, typer.Option(help="training file, or a directory of CSV files")],
    test: Annotated[Path, typer.Option(help="test file, or a directory of CSV files")],
    json_out: Annotated[Path, typer.Option("--json", help="write all results here")],
    plot: Annotated[Path | None, typer.Option(help="write a PNG plot here")] = None,
    fmt: Annotated[str, typer.Option("--format", help=FORMAT_HELP)] = "auto",
    clients: Annotated[int, typer.Option(help="number of simulated agents")] = 3,
    rounds: Annotated[int, typer.Option(help="federated rounds")] = 5,
    partition: Annotated[str, typer.Option(help="iid, dirichlet:ALPHA or by-class")] = "by-class",
    protect: Annotated[
        str, typer.Option(help="comma-separated protections to compare")
    ] = "none,ckks",
    seed: Annotated[int, typer.Option(help="seeds partition, models and masks")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Local-only vs federated (plaintext, encrypted) vs centralised: JSON and a PNG plot."""
    setup_logging(verbose)
    show = not quiet
    with guarded():
        from swarmguard.federate.experiment import compare, plot_comparison
        from swarmguard.federate.simulation import FederationConfig

        protections = tuple(p.strip() for p in protect.split(",") if p.strip())
        config = FederationConfig(
            detector=detector, clients=clients, rounds=rounds, partition=partition, seed=seed
        )
        for p in protections:
            FederationConfig(
                detector=detector, clients=clients, rounds=rounds, protect=p
            ).validate()
        config.validate()
        skip_log = SkipLog()
        train_rows = load_rows(
            train, fmt, skip_bad=False, skip_log=skip_log, show=show, what="training data"
        )
        test_rows = load_rows(
            test,
            train_rows.format if fmt == "auto" else fmt,
            skip_bad=False,
            skip_log=skip_log,
            show=show,
            what="test data",
        )
        with spinner(f"federated {detector} experiment", show) as stage:
            result = compare(train_rows, test_rows, config, protections=protections, on_stage=stage)
        result["plot"] = str(plot) if plot and plot_comparison(result, plot) else None
        _write(json_out, result)
        if show:
            s = result["summary"]
            fed = ", ".join(f"{p} {v:.3f}" for p, v in s["federated_f1"].items())
            out.print(
                f"F1 local-only {s['local_only_f1']:.3f}; federated {fed}; "
                f"centralised {s['centralised_f1']:.3f}"
            )
