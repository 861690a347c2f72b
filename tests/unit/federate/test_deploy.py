from __future__ import annotations

from pathlib import Path

import pytest

from swarmguard.federate.flower.deploy import write_app, write_flower_home
from swarmguard.federate.flower.service import CoordinatorSettings


def test_secagg_runs_the_legacy_wired_apps(tmp_path: Path) -> None:
    text = write_app(tmp_path / "a", {"protect": "secagg", "rounds": 3}).read_text()
    assert "secagg_app:server_app" in text and "secagg_app:client_app" in text
    text = write_app(tmp_path / "b", {"protect": "ckks", "rounds": 3}).read_text()
    assert "server_app:app" in text and "rounds = 3" in text


def test_flower_home_names_the_ca(tmp_path: Path) -> None:
    home = write_flower_home(tmp_path / "h", "127.0.0.1:9092", tmp_path / "ca.pem")
    text = (home / "config.toml").read_text()
    assert 'address = "127.0.0.1:9092"' in text and "ca.pem" in text and "insecure" not in text


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"protect": "secagg", "clients": 2}, "at least 3"),
        ({"protect": "ckks", "public_key": None}, "public-key"),
        ({"protect": "ckks", "strategy": "krum", "public_key": None}, "krum"),
        ({"protect": "rot13"}, "protect"),
    ],
)
def test_coordinator_settings_are_checked(tmp_path: Path, kw: dict, needle: str) -> None:  # type: ignore[type-arg]
    base = {
        "detector": "lstm",
        "clients": 3,
        "rounds": 2,
        "workdir": tmp_path,
        "certs": None,
        "public_key": None,
    }
    with pytest.raises(ValueError, match=needle):
        CoordinatorSettings(**{**base, **kw}).validate()
