"""``swarmguard ingest``: a capture, sensor log, auth log or dataset to Parquet or JSON lines."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.parquet as pq
import typer

from swarmguard.cli.console import byte_progress, guarded, input_size, out, setup_logging
from swarmguard.config import Settings
from swarmguard.errors import InputError, SkipLog
from swarmguard.records.log import LogEvent

__all__ = ["INPUT_KINDS", "ingest_command", "sniff_kind", "write_records"]

INPUT_KINDS = ("auto", "pcap", "eve", "zeek", "auth", "nsl-kdd", "unsw-nb15", "cic-ids2017")
_PCAP_MAGICS = {
    b"\xa1\xb2\xc3\xd4",
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",
    b"\x4d\x3c\xb2\xa1",
    b"\x0a\x0d\x0d\x0a",
}
_SYSLOG = re.compile(rb"^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d |<\d+>|\d{4}-\d\d-\d\dT\d\d:\d\d)")


def sniff_kind(path: Path) -> str:
    """Guess the input kind of ``path`` from its first bytes (datasets by their columns)."""
    if path.is_dir():
        return "dataset"
    with path.open("rb") as fh:
        head = fh.read(4096)
    if not head:
        raise InputError(path, "empty file")
    if head[:4] in _PCAP_MAGICS:
        return "pcap"
    first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].strip()
    if first.startswith(b"#separator"):
        return "zeek"
    if first.startswith(b"{"):
        if b'"event_type"' in first:
            return "eve"
        if b'"id.orig_h"' in first:
            return "zeek"
        raise InputError(path, "JSON lines that are neither Suricata EVE nor Zeek logs", line=1)
    if _SYSLOG.match(first):
        return "auth"
    return "dataset"


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def write_records(records: pa.Table | list[LogEvent], dest: Path) -> int:
    """Write a flow/dataset table or log events to ``dest`` (.parquet or .jsonl); return rows."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    parquet = dest.suffix == ".parquet"
    if not parquet and dest.suffix not in (".jsonl", ".json", ".ndjson"):
        raise ValueError(f"{dest}: output must end in .parquet or .jsonl")
    if isinstance(records, list):
        if parquet:
            table = pa.Table.from_pylist([e.model_dump() for e in records])
            pq.write_table(table, dest)
        else:
            with dest.open("w", encoding="utf-8") as fh:
                for event in records:
                    fh.write(event.model_dump_json() + "\n")
        return len(records)
    if parquet:
        pq.write_table(records, dest)
    else:
        with dest.open("w", encoding="utf-8") as fh:
            for batch in records.to_batches(max_chunksize=65_536):
                for row in batch.to_pylist():
                    clean = {k: _jsonable(v) for k, v in row.items()}
                    fh.write(json.dumps(clean, separators=(",", ":")) + "\n")
    return int(records.num_rows)


def ingest_command(
    source: Annotated[
        Path | None, typer.Argument(help="capture, EVE/Zeek/auth log, or dataset file or dir")
    ] = None,
    out_path: Annotated[
        Path, typer.Option("--out", "-o", help="output file: .parquet or .jsonl")
    ] = Path("flows.parquet"),
    kind: Annotated[
        str, typer.Option("--input-format", help=f"one of {', '.join(INPUT_KINDS)}")
    ] = "auto",
    live: Annotated[
        str | None, typer.Option(help="capture live from this interface instead of a file")
    ] = None,
    duration: Annotated[float, typer.Option(help="seconds of live capture")] = 10.0,
    alerts_out: Annotated[
        Path | None, typer.Option(help="for EVE input: also write its alerts here (EVE lines)")
    ] = None,
    sensor_id: Annotated[str, typer.Option(help="sensor name put in every record")] = "local",
    year: Annotated[int | None, typer.Option(help="year of syslog lines (they carry none)")] = None,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="skip malformed rows (counted and reported)")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress, no summary")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
) -> None:
    """Turn one input into records: flows, dataset rows or log events."""
    setup_logging(verbose)
    show = not quiet
    with guarded():
        settings = Settings(sensor_id=sensor_id)
        skip_log = SkipLog()
        records: pa.Table | list[LogEvent]
        if live is not None:
            from swarmguard.acquire.live import capture_live

            batches = list(
                capture_live(live, duration_s=duration, settings=settings.flow, sensor_id=sensor_id)
            )
            from swarmguard.records.flow import empty_flow_table

            records = pa.concat_tables([empty_flow_table(), *batches])
            what = f"flows from {live}"
        else:
            if source is None:
                raise ValueError("give an input file or --live IFACE")
            if not source.exists():
                raise FileNotFoundError(f"{source}: no such file or directory")
            if kind not in INPUT_KINDS:
                raise ValueError(f"unknown --input-format {kind}; use {', '.join(INPUT_KINDS)}")
            found = sniff_kind(source) if kind == "auto" else kind
            opts: dict[str, Any] = {"skip_bad": skip_bad, "skip_log": skip_log}
            with byte_progress(f"reading {source.name}", input_size(source), show) as progress:
                opts["progress"] = progress
                if found == "pcap":
                    from swarmguard.acquire.pcap import read_pcap

                    records = read_pcap(source, settings=settings.flow, sensor_id=sensor_id, **opts)
                    what = "flows"
                elif found == "eve":
                    from swarmguard.acquire.eve import read_eve

                    contents = read_eve(source, sensor_id=sensor_id, **opts)
                    records = contents.flows
                    what = f"flows ({len(contents.alerts)} alerts)"
                    if alerts_out is not None:
                        alerts_out.parent.mkdir(parents=True, exist_ok=True)
                        with alerts_out.open("w", encoding="utf-8") as fh:
                            for alert in contents.alerts:
                                fh.write(alert.to_eve_line() + "\n")
                elif found == "zeek":
                    from swarmguard.acquire.zeek import read_conn_log

                    records = read_conn_log(source, sensor_id=sensor_id, **opts)
                    what = "flows"
                elif found == "auth":
                    from swarmguard.acquire.authlog import read_auth_log

                    records = read_auth_log(source, year=year, sensor_id=sensor_id, **opts)
                    what = "log events"
                else:
                    from swarmguard.acquire.datasets import load_dataset

                    fmt = "auto" if found == "dataset" else found
                    rows = load_dataset(source, fmt, **opts)
                    records = rows.table
                    what = f"{rows.format} rows"
        n = write_records(records, out_path)
        if show:
            if skip_log.count:
                out.print(f"[yellow]{skip_log.summary()}[/yellow]")
            out.print(f"{n} {what} -> {out_path}")
