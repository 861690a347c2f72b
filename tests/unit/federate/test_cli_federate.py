from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SWARMGUARD = [sys.executable, "-m", "swarmguard"]


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run(
        [*SWARMGUARD, *args], capture_output=True, text=True, env=env, timeout=240, check=False
    )


@pytest.fixture(scope="module")
def nsl_files(datasets_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    lines = (datasets_dir / "nsl-kdd" / "KDDTrain+_20Percent.txt").read_bytes().splitlines(True)
    d = tmp_path_factory.mktemp("nsl")
    (d / "KDDTrain+.txt").write_bytes(b"".join(lines[:3000]))
    (d / "KDDTest+.txt").write_bytes(b"".join(lines[3000:4500]))
    return d / "KDDTrain+.txt", d / "KDDTest+.txt"


def test_simulate_contract(nsl_files: tuple[Path, Path], tmp_path: Path) -> None:
    train, test = nsl_files
    out = tmp_path / "r.json"
    res = _run(
        [
            "federate",
            "simulate",
            "--detector",
            "fakes:LogRegDetector",
            "--train",
            str(train),
            "--test",
            str(test),
            "--format",
            "nsl-kdd",
            "--clients",
            "3",
            "--rounds",
            "3",
            "--partition",
            "dirichlet:0.5",
            "--protect",
            "ckks",
            "--seed",
            "1",
            "--json",
            str(out),
            "-q",
        ]
    )
    assert res.returncode == 0, res.stderr
    r = json.loads(out.read_text())
    assert (r["rounds"], r["clients"], r["protect"], r["n_test"]) == (3, 3, "ckks", 1500)
    assert r["bytes_per_round"]["up"] > 0 and r["bytes_per_round"]["down"] > 0
    assert 0 <= r["centralised_f1"] <= 1 and 0 <= r["local_only_f1"] <= 1
    assert r["f1"] > 0.8


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--partition", "dirichlet:-2"], "ALPHA"),
        (["--protect", "rsa"], "protect"),
        (["--clients", "0"], "clients"),
        (["--detector", "svm"], "federatedly"),
        (["--detector", "nonesuch"], "unknown detector"),
    ],
)
def test_bad_input_one_line(
    nsl_files: tuple[Path, Path], tmp_path: Path, extra: list[str], needle: str
) -> None:
    train, test = nsl_files
    args = {"--detector": "fakes:LogRegDetector", "--clients": "3", "--rounds": "1"}
    for k, v in zip(extra[::2], extra[1::2], strict=True):
        args[k] = v
    flat = [x for kv in args.items() for x in kv]
    res = _run(
        [
            "federate",
            "simulate",
            *flat,
            "--train",
            str(train),
            "--test",
            str(test),
            "--json",
            str(tmp_path / "o.json"),
            "-q",
        ]
    )
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], res.stderr


def test_missing_train_file(tmp_path: Path) -> None:
    res = _run(
        [
            "federate",
            "simulate",
            "--detector",
            "lstm",
            "--train",
            str(tmp_path / "no.csv"),
            "--test",
            str(tmp_path / "no.csv"),
            "--clients",
            "2",
            "--rounds",
            "1",
            "--json",
            str(tmp_path / "o.json"),
            "-q",
        ]
    )
    assert res.returncode != 0 and "no such file" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_experiment_command(nsl_files: tuple[Path, Path], tmp_path: Path) -> None:
    train, test = nsl_files
    out = tmp_path / "e.json"
    res = _run(
        [
            "federate",
            "experiment",
            "--detector",
            "fakes:LogRegDetector",
            "--train",
            str(train),
            "--test",
            str(test),
            "--clients",
            "3",
            "--rounds",
            "2",
            "--partition",
            "by-class",
            "--json",
            str(out),
            "--plot",
            str(tmp_path / "e.png"),
            "-q",
        ]
    )
    assert res.returncode == 0, res.stderr
    r = json.loads(out.read_text())
    assert set(r["summary"]["federated_f1"]) == {"none", "ckks"}
    assert abs(r["summary"]["federated_f1"]["none"] - r["summary"]["federated_f1"]["ckks"]) < 0.01
    assert (tmp_path / "e.png").exists() == (r["plot"] is not None)  # None: no matplotlib


def test_certs_and_keys_commands(tmp_path: Path) -> None:
    res = _run(
        ["certs", "--out", str(tmp_path / "c"), "--host", "127.0.0.1", "--host", "agent.lan"]
    )
    assert res.returncode == 0, res.stderr
    from cryptography import x509

    cert = x509.load_pem_x509_certificate((tmp_path / "c" / "server.pem").read_bytes())
    ca = x509.load_pem_x509_certificate((tmp_path / "c" / "ca.pem").read_bytes())
    cert.verify_directly_issued_by(ca)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "agent.lan" in san.get_values_for_type(x509.DNSName)
    assert (tmp_path / "c" / "server.key").stat().st_mode & 0o077 == 0
    res = _run(["federate", "keys", "--out", str(tmp_path / "k")])
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "k" / "ckks-secret.ctx").stat().st_mode & 0o077 == 0
    bad = _run(["federate", "keys", "--out", str(tmp_path / "k2"), "--poly-modulus-degree", "5"])
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1


def test_coordinator_refuses_a_secret_key(tmp_path: Path) -> None:
    assert _run(["federate", "keys", "--out", str(tmp_path / "k")]).returncode == 0
    res = _run(
        [
            "coordinator",
            "--federate",
            "--insecure",
            "--public-key",
            str(tmp_path / "k" / "ckks-secret.ctx"),
            "--workdir",
            str(tmp_path / "w"),
        ]
    )
    assert res.returncode != 0
    assert "secret key" in res.stderr and len(res.stderr.strip().splitlines()) == 1
