from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from swarmguard.cli.defend import defend_app
from swarmguard.defend.policy import DEFAULT_POLICY

CALDERA = Path("/work/shared/caldera/data")
pytestmark = pytest.mark.skipif(not CALDERA.is_dir(), reason="shared CALDERA data not present")
FIELDS = {
    "episodes",
    "reward_mean",
    "reward_ci95",
    "ops_stopped_before_objective",
    "detection_rate",
    "false_response_precision",
    "ttd_ticks_median",
    "ttc_ticks_median",
    "disruptive_actions_per_100_ticks",
    "idle_cost",
}


def _profile(name: str) -> Path:
    for p in CALDERA.joinpath("adversaries").rglob("*.yml"):
        if f"name: {name}\n" in p.read_text():
            return p
    raise AssertionError(name)


@pytest.mark.parametrize("policy", ["default", "baseline:block-after-n"])
def test_evaluate_contract(tmp_path: Path, policy: str) -> None:
    out = tmp_path / "out.json"
    args = ["evaluate", "--policy", policy, "--caldera", str(CALDERA)]
    for name in ("Thief", "Discovery"):
        args += ["--adversary", str(_profile(name))]
    args += ["--episodes", "4", "--seed", "5", "--json", str(out)]
    res = CliRunner().invoke(defend_app, args)
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert set(data["adversaries"]) == {"Thief", "Discovery"}
    for row in [*data["adversaries"].values(), data["overall"]]:
        assert set(row) >= FIELDS
    assert data["overall"]["episodes"] == 8


def test_malformed_profile_exits_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("name: no id here\natomic_ordering: [a]\n")
    res = CliRunner().invoke(
        defend_app,
        [
            "evaluate",
            "--caldera",
            str(CALDERA),
            "--adversary",
            str(bad),
            "--episodes",
            "1",
            "--seed",
            "0",
            "--json",
            str(tmp_path / "o.json"),
        ],
    )
    assert res.exit_code != 0
    assert "bad.yml" in res.output and "no id" in res.output


def test_shipped_policy_has_manifest() -> None:
    manifest = json.loads((DEFAULT_POLICY / "manifest.json").read_text())
    assert manifest["command"].startswith("swarmguard defend train") and "seed" in manifest
    size = sum(p.stat().st_size for p in DEFAULT_POLICY.iterdir())
    assert size < 400_000


def test_profile_that_cannot_run_is_reported(tmp_path: Path) -> None:
    out = tmp_path / "o.json"
    res = CliRunner().invoke(
        defend_app,
        [
            "evaluate",
            "--policy",
            "baseline:none",
            "--caldera",
            str(CALDERA),
            "--adversary",
            str(_profile("Check")),
            "--adversary",
            str(_profile("Thief")),
            "--episodes",
            "2",
            "--seed",
            "0",
            "--json",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["adversaries"]["Check"]["runnable"] is False
    assert "abilities" in data["adversaries"]["Check"]["reason"]
    assert data["overall"]["episodes"] == 2
