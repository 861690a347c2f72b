"""Every suricata-verify test folder in ../shared passes ``swarmguard rules-test``.

The folders are Suricata's own regression tests (captures, rules, expected EVE alerts). The
command runs in-process through Typer's runner (the subprocess form is covered by
``tests/unit/cli/test_rules_contracts.py``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from swarmguard.cli.app import app

REPO = Path(__file__).resolve().parents[2]
_SV = Path(os.environ.get("SWARMGUARD_SURICATA_VERIFY", REPO.parent / "shared" / "suricata-verify"))
TESTS = sorted(p for p in (_SV / "tests").iterdir() if p.is_dir()) if _SV.is_dir() else []


def test_suite_is_present() -> None:
    assert len(TESTS) >= 18, f"suricata-verify tests not found under {_SV}"


@pytest.mark.parametrize("folder", TESTS, ids=[p.name for p in TESTS])
def test_rules_test_passes(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    res = CliRunner().invoke(app, ["rules-test", str(folder), "--json", str(out)])
    assert res.exit_code == 0, res.output
    result = json.loads(out.read_text())
    assert result["passed"] is True
    checked = [c for c in result["checks"] if c["passed"] is not None]
    assert checked, "no alert check was evaluated"
    assert all(c["passed"] for c in checked)
