"""``swarmguard range`` command line: errors are one line, ``down`` only touches sgx- names."""

from __future__ import annotations

import os
import uuid

import pytest
from typer.testing import CliRunner

from swarmguard.cli.range import range_app

runner = CliRunner()


def test_unknown_scenario_is_one_clear_error() -> None:
    res = runner.invoke(range_app, ["run", "--scenario", "no-such-range.yaml"])
    assert res.exit_code == 2
    assert "no-such-range.yaml: no such scenario file (shipped: campus, small)" in res.output


def test_bad_phase_is_refused() -> None:
    res = runner.invoke(range_app, ["run", "--phase", "cooldown"])
    assert res.exit_code == 2
    assert "must be warmup or measure" in res.output


@pytest.mark.net
def test_down_of_an_unknown_run_removes_nothing() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    run = uuid.uuid4().hex[:6]
    res = runner.invoke(range_app, ["down", "--run", run])
    assert res.exit_code == 0, res.output
    assert "removed 0 namespaces" in res.output
