"""``swarmguard sigma-test``: run a SigmaHQ regression test folder against a rule folder."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import yaml

from swarmguard.acquire.logs import read_logs
from swarmguard.cli.console import guarded, out, setup_logging, spinner
from swarmguard.errors import InputError, MissingExtraError, SkipLog
from swarmguard.records.log import LogEvent

if TYPE_CHECKING:  # pySigma is the optional "logs" extra: imported when a command runs
    from swarmguard.detect.sigma import SigmaEngine

__all__ = ["expected_rule_ids", "load_engine", "run_sigma_test", "sigma_test_command"]


def load_engine(rules: Path, *, skip_unsupported: bool) -> SigmaEngine:
    """Load the Sigma rules under ``rules`` (needs the ``logs`` extra: pySigma).

    Raises
    ------
    MissingExtraError
        If pySigma is not installed.
    """
    try:
        from swarmguard.detect.sigma import SigmaEngine
    except ImportError as exc:  # pragma: no cover - the extra is installed in CI
        raise MissingExtraError(
            f"Sigma rules need pySigma: pip install 'swarmguard[logs]' ({exc})"
        ) from exc
    return SigmaEngine.from_folder(rules, skip_unsupported=skip_unsupported)


def expected_rule_ids(folder: Path) -> list[str]:
    """The rule ids ``info.yml`` names (``rule_metadata[].id``).

    Raises
    ------
    InputError
        If ``info.yml`` is missing, not YAML, or names no rule.
    """
    info = folder / "info.yml"
    if not info.is_file():
        raise InputError(folder, "no info.yml in the regression test folder")
    try:
        meta = yaml.safe_load(info.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(info, f"not YAML: {' '.join(str(exc).split())[:120]}") from None
    ids: list[str] = []
    if isinstance(meta, dict):
        for item in meta.get("rule_metadata") or []:
            if isinstance(item, dict) and item.get("id"):
                ids.append(str(item["id"]))
    if not ids:
        raise InputError(info, "names no rule (rule_metadata[].id)")
    return ids


def _test_events(folder: Path, skip_bad: bool, skip_log: SkipLog) -> list[LogEvent]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".json", ".evtx"))
    if not files:
        raise InputError(folder, "no .json or .evtx event files")
    events: list[LogEvent] = []
    for path in files:
        fmt = "evtx" if path.suffix.lower() == ".evtx" else "evtx-json"
        events.extend(read_logs(path, fmt, skip_bad=skip_bad, skip_log=skip_log))
    return events


def run_sigma_test(folder: Path, engine: SigmaEngine, *, skip_bad: bool = False) -> dict[str, Any]:
    """Run one regression test folder; return the result object (``passed`` and details)."""
    wanted = expected_rule_ids(folder)
    skip_log = SkipLog()
    events = _test_events(folder, skip_bad, skip_log)
    hits = engine.match(events)
    per_rule: Counter[str] = Counter(h.rule.id for h in hits)
    rules = {h.rule.id: h.rule for h in hits}
    fired = [
        {
            "id": rid,
            "title": rules[rid].title,
            "level": rules[rid].level,
            "events": n,
            "path": rules[rid].path,
        }
        for rid, n in sorted(per_rule.items(), key=lambda kv: rules[kv[0]].title)
    ]
    return {
        "test": str(folder),
        "expected_rule_ids": wanted,
        "passed": any(rid in per_rule for rid in wanted),
        "events": len(events),
        "skipped_events": skip_log.count,
        "rules_loaded": engine.report.loaded,
        "rules_skipped": dict(engine.report.skipped),
        "fired": fired,
    }


def sigma_test_command(
    folder: Annotated[Path, typer.Argument(help="SigmaHQ regression test folder (info.yml)")],
    rules: Annotated[Path, typer.Option(help="folder of Sigma rules (searched recursively)")],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="write the result as one JSON object")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="fail on any rule that cannot be loaded")
    ] = False,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="skip undecodable events (counted)")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="print only the verdict")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
) -> None:
    """Run every rule under RULES over the test's events; exit 0 iff the named rule fired."""
    setup_logging(verbose)
    with guarded():
        if not folder.is_dir():
            raise InputError(folder, "not a folder")
        expected_rule_ids(folder)  # fail early on a bad info.yml
        with spinner("loading Sigma rules", not quiet):
            engine = load_engine(rules, skip_unsupported=not strict)
        result = run_sigma_test(folder, engine, skip_bad=skip_bad)
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        if not quiet:
            out.print(f"{result['events']} events; {engine.report.summary()}")
            for rule in result["fired"]:
                out.print(
                    f"fired: {rule['id']} {rule['title']} ({rule['level']}, "
                    f"{rule['events']} events)",
                    markup=False,
                )
        verdict = "PASS" if result["passed"] else "FAIL"
        out.print(f"{verdict}: expected {', '.join(result['expected_rule_ids'])}", markup=False)
    if not result["passed"]:
        raise typer.Exit(1)
