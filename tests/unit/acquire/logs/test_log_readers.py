"""Log readers: real shared samples where they exist, small synthetic lines for mechanics."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from swarmguard.acquire.logs import detect_format, read_logs
from swarmguard.errors import InputError, SkipLog
from swarmguard.shared_data import shared_dir

REGRESSION = shared_dir() / "sigma" / "regression_data"
ACCESS = (
    '198.51.100.7 - - [10/Oct/2024:13:55:36 +0000] "GET /index.php?id=1 HTTP/1.1" 200 512 '
    '"-" "curl/8.0"\n'
)


def test_shared_evtx_exports(datasets_dir: Path) -> None:
    path = datasets_dir / "logs" / "evtx" / "Credential_Access.jsonl.gz"
    if not path.exists():
        pytest.skip("evtx samples not available")
    assert detect_format(path) == "evtx-json"
    events = read_logs(path)
    assert len(events) == 744
    first = events[0]
    assert (first.event_id, first.channel, first.host) == (4794, "Security", "2016dc.hqcorp.local")
    assert first.origin_file == "Credential Access/4794_DSRM_password_change_t1098.evtx"
    assert all(e.raw_format == "evtx" and e.raw for e in events)


@pytest.mark.skipif(not REGRESSION.is_dir(), reason="shared/sigma not available")
def test_evtx_and_its_json_agree() -> None:
    evtx = sorted(REGRESSION.rglob("*.evtx"))[0]
    js = sorted(evtx.parent.glob("*.json"))[0]
    a, b = read_logs(evtx), read_logs(js)
    assert detect_format(evtx) == "evtx" and detect_format(js) == "evtx-json"
    assert [(e.event_id, e.process, e.command_line, e.ts) for e in a] == [
        (e.event_id, e.process, e.command_line, e.ts) for e in b
    ]


def test_access_log_and_gzip(tmp_path: Path) -> None:
    plain = tmp_path / "access.log"
    plain.write_text(ACCESS * 2)
    packed = tmp_path / "access.log.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, packed):
        assert detect_format(path) == "access"
        events = read_logs(path)
        assert [(e.src_ip, e.http_status, e.source_line) for e in events] == [
            ("198.51.100.7", 200, 1),
            ("198.51.100.7", 200, 2),
        ]
        raw = json.loads(events[0].raw or "{}")
        assert raw["cs-uri-query"] == "id=1" and raw["c-useragent"] == "curl/8.0"


def test_bad_access_line_error_and_skip(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text(ACCESS + "garbage\n" + ACCESS)
    with pytest.raises(InputError, match=r"a.log:2: not an access log line"):
        read_logs(path, "access")
    skips = SkipLog()
    assert len(read_logs(path, "access", skip_bad=True, skip_log=skips)) == 2
    assert skips.count == 1


def test_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(
        '{"@timestamp": "2024-01-01T00:00:00Z", "user": {"name": "a"}, '
        '"source": {"ip": "1.2.3.4"}, "event": {"action": "login"}}\n[1]\n'
    )
    with pytest.raises(InputError, match=r"e.jsonl:2"):
        read_logs(path)
    (event,) = read_logs(path, skip_bad=True)
    assert (event.user, event.src_ip, event.event_type) == ("a", "1.2.3.4", "login")


def test_auth_log_through_dispatcher(datasets_dir: Path) -> None:
    path = datasets_dir / "logs" / "loghub" / "OpenSSH" / "OpenSSH_2k.log"
    if not path.exists():
        pytest.skip("loghub not available")
    events = read_logs(path, "auth")
    assert len(events) == 2000
    assert {e.product for e in events} == {"linux"}
    assert sum(e.action == "auth_failure" for e in events) > 100


def test_gzip_auth_log_keeps_its_name(tmp_path: Path) -> None:
    path = tmp_path / "auth.log.gz"
    path.write_bytes(gzip.compress(b"Jan  1 00:00:01 h sshd[1]: Invalid user x from 1.2.3.4\n"))
    (event,) = read_logs(path, "syslog")
    assert event.source_file == str(path) and event.action == "invalid_user"


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown log format"):
        read_logs(tmp_path / "x", "csv")
    with pytest.raises(InputError, match="no such file"):
        read_logs(tmp_path / "x")
