"""Auth-log reader: loghub OpenSSH and Linux agreement, header forms, years, bad input, goldens.

Loghub labelling rule (also in docs/sensor-inputs.md): every line of the ``*_structured.csv``
files has an ``EventTemplate``; the expected action of the line is the action of the first row
of ``TEMPLATE_RULES`` whose regex is found in the template, else ``other``. The parser reads
the raw ``.log`` lines and never sees the templates, so agreement on every line is a real
check of both the message rules and the line splitting.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from swarmguard.acquire.authlog import classify_message, read_auth_log
from swarmguard.errors import InputError, SkipLog
from swarmguard.records.log import LogEvent

LOGHUB = Path("logs") / "loghub"
GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "authlog"
REGEN = os.environ.get("SWARMGUARD_REGEN_GOLDEN") == "1"


def first_skipped_line(log: SkipLog, path: Path) -> int:
    """The line of the first skipped row (SkipLog keeps it as an int or as "line N")."""
    where = str(log.first[str(path)][0])
    return int(where.removeprefix("line "))


MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}

#: Template keyword -> action; first match wins, no match is "other".
TEMPLATE_RULES: list[tuple[str, str]] = [
    (r"POSSIBLE BREAK-IN ATTEMPT", "break_in_attempt"),
    (r"^(message repeated <\*> times: \[ )?Failed \S+ for", "auth_failure"),
    (r"^Accepted ", "auth_success"),
    (r"^Invalid user |^input_userauth_request: invalid user", "invalid_user"),
    (r"more authentication failures?;|Too many authentication failures", "too_many_failures"),
    (
        r"authentication failure;|^Authentication failed from|^Kerberos authentication failed"
        r"|^Couldn't authenticate user",
        "auth_failure",
    ),
    (r"^ANONYMOUS FTP LOGIN|^ROOT LOGIN ON", "auth_success"),
    (r"session opened for user", "session_open"),
    (r"session closed for user", "session_close"),
    (r"Received disconnect from|^Connection closed by", "disconnect"),
]

#: For these templates, which ``<*>`` parameter (0-based) is the user, the address, the port.
OPENSSH_PARAMS: dict[str, dict[str, int]] = {
    "E1": {"user": 0, "src_ip": 1, "src_port": 2},
    "E8": {"user": 0, "src_ip": 1, "src_port": 2},
    "E9": {"user": 0, "src_ip": 1, "src_port": 2},
    "E10": {"user": 0, "src_ip": 1, "src_port": 2},
    "E13": {"user": 0, "src_ip": 1},
    "E12": {"user": 0},
    "E27": {"src_ip": 1},
    "E19": {"src_ip": 2},
    "E20": {"src_ip": 2, "user": 3},
    "E2": {"src_ip": 0},
    "E24": {"src_ip": 0},
    "E23": {"user": 0},
    "E22": {"user": 0},
}


def expected_action(template: str) -> str:
    for pattern, action in TEMPLATE_RULES:
        if re.search(pattern, template):
            return action
    return "other"


def template_params(template: str, content: str) -> list[str] | None:
    parts = [re.escape(p) for p in template.strip().split("<*>")]
    regex = "(.*?)".join(parts)
    regex = regex.replace(r"\ \ ", r"\s+")
    match = re.fullmatch(regex, content.strip())
    return list(match.groups()) if match else None


def load(datasets_dir: Path, name: str) -> tuple[list[LogEvent], list[dict[str, str]]]:
    folder = datasets_dir / LOGHUB / name
    events = read_auth_log(folder / f"{name}_2k.log", year=2024)
    with (folder / f"{name}_2k.log_structured.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return events, rows


@pytest.mark.parametrize("name", ["OpenSSH", "Linux"])
def test_loghub_every_line_agrees_with_the_template_labelling(
    datasets_dir: Path, name: str
) -> None:
    events, rows = load(datasets_dir, name)
    assert len(events) == len(rows) == 2000
    disagreements = []
    for event, row in zip(events, rows, strict=True):
        assert event.source_line == int(row["LineId"])
        want = expected_action(row["EventTemplate"])
        if event.action != want:
            disagreements.append((row["LineId"], row["EventId"], want, event.action))
    assert disagreements == []


@pytest.mark.parametrize("name", ["OpenSSH", "Linux"])
def test_loghub_header_fields_match_the_structured_csv(datasets_dir: Path, name: str) -> None:
    events, rows = load(datasets_dir, name)
    for event, row in zip(events, rows, strict=True):
        if name == "OpenSSH":
            month, day, host, program = row["Date"], row["Day"], row["Component"], "sshd"
            pid = row["Pid"]
        else:
            month, day, host, program = row["Month"], row["Date"], row["Level"], row["Component"]
            pid = row["PID"]
        hh, mm, ss = (int(x) for x in row["Time"].split(":"))
        assert event.ts == datetime(2024, MONTHS[month], int(day), hh, mm, ss, tzinfo=UTC)
        assert event.host == host
        assert event.program == program
        assert event.pid == (int(pid) if pid else None)
        assert event.message.strip() == row["Content"].strip()


def test_loghub_openssh_fields_match_the_template_parameters(datasets_dir: Path) -> None:
    events, rows = load(datasets_dir, "OpenSSH")
    checked = 0
    for event, row in zip(events, rows, strict=True):
        spec = OPENSSH_PARAMS.get(row["EventId"])
        if spec is None:
            continue
        params = template_params(row["EventTemplate"], row["Content"])
        assert params is not None, row
        for field, index in spec.items():
            value: Any = params[index].strip()
            got = getattr(event, field)
            if field == "src_port":
                value = int(value)
            else:
                got = got.strip()  # user names such as " 0101" keep their spaces in events
            assert got == value, (row["LineId"], field)
        checked += 1
    assert checked > 1500


def test_loghub_openssh_counts_from_the_datasets_readme(datasets_dir: Path) -> None:
    events, _ = load(datasets_dir, "OpenSSH")
    actions = Counter(e.action for e in events)
    failed_password = [
        e for e in events if e.action == "auth_failure" and e.auth_method == "password"
    ]
    # 520 lines say "Failed password": 518 single lines and 2 "message repeated 5 times".
    assert len(failed_password) == 520
    repeats = sum(
        int(m.group(1))
        for e in failed_password
        if (m := re.match(r"message repeated (\d+) times", e.message))
    )
    assert len(failed_password) - 2 + repeats == 528  # attempts the lines stand for
    # 365 lines mention an invalid user: 113 "Invalid user", 113 input_userauth_request,
    # 135 "Failed password for invalid user", 4 "Failed none for invalid user".
    mentions = [
        e for e in events if e.action == "invalid_user" or "invalid user" in e.message.lower()
    ]
    assert len(mentions) == 365
    assert sum(e.message.startswith("Invalid user ") for e in events) == 113
    assert actions["break_in_attempt"] == 85
    assert all(e.outcome == "failure" for e in failed_password)
    assert actions == {
        "auth_failure": 1018,
        "disconnect": 502,
        "invalid_user": 226,
        "other": 153,
        "break_in_attempt": 85,
        "too_many_failures": 13,
        "auth_success": 1,
        "session_open": 1,
        "session_close": 1,
    }


def test_loghub_file_mtime_gives_a_year_not_in_the_future(datasets_dir: Path) -> None:
    path = datasets_dir / LOGHUB / "OpenSSH" / "OpenSSH_2k.log"
    events = read_auth_log(path)
    mtime = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    assert events[-1].ts.year in (mtime.year, mtime.year - 1)
    assert events[-1].ts <= mtime + timedelta(days=1)


# --- header forms and years -------------------------------------------------------------


def write(tmp_path: Path, text: str | bytes, name: str = "auth.log") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def test_december_to_january_rolls_the_year(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Dec 31 23:59:58 h sshd[1]: Accepted publickey for alice from 10.0.0.1 port 5 ssh2\n"
        "Jan  1 00:00:02 h sshd[2]: session opened for user alice by (uid=0)\n"
        "Dec 31 23:59:59 h sshd[1]: late line written after the new year\n"
        "Feb  3 10:00:00 h cron[3]: (root) CMD (true)\n",
    )
    events = read_auth_log(path, year=2023)
    assert [e.ts.year for e in events] == [2023, 2024, 2023, 2024]
    assert events[0].action == "auth_success" and events[0].auth_method == "publickey"
    assert events[1].action == "session_open" and events[1].user == "alice"


def test_default_year_puts_the_last_line_at_or_before_the_mtime(tmp_path: Path) -> None:
    path = write(tmp_path, "Dec 30 10:00:00 h sshd[1]: x\nJan  2 10:00:00 h sshd[1]: y\n")
    os.utime(path, (datetime(2025, 1, 5, tzinfo=UTC).timestamp(),) * 2)
    assert [e.ts.year for e in read_auth_log(path)] == [2024, 2025]
    path2 = write(tmp_path, "Dec 30 10:00:00 h sshd[1]: x\n", "dec.log")
    os.utime(path2, (datetime(2025, 1, 5, tzinfo=UTC).timestamp(),) * 2)
    assert read_auth_log(path2)[0].ts == datetime(2024, 12, 30, 10, tzinfo=UTC)


def test_iso_and_rfc5424_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "2024-03-01T10:20:30.123456+01:00 web1 sshd[811]: Invalid user oracle from "
        "203.0.113.9 port 40022\n"
        "2024-03-01T10:20:31+0100 web1 sshd[811]: Connection closed by invalid user oracle "
        "203.0.113.9 port 40022 [preauth]\n"
        '<38>1 2024-03-01T09:20:32.5Z web1 sshd 811 - [meta seq="1"] Failed password for root '
        "from 2001:db8::7 port 2222 ssh2\n"
        "<86>1 2024-03-01T09:20:33Z - - - - - \ufeffno app\n",
    )
    events = read_auth_log(path)
    assert events[0].ts == datetime(2024, 3, 1, 9, 20, 30, 123456, tzinfo=UTC)
    assert (events[0].action, events[0].user, events[0].src_port) == (
        "invalid_user",
        "oracle",
        40022,
    )
    assert (events[1].action, events[1].user, events[1].src_ip) == (
        "disconnect",
        "oracle",
        "203.0.113.9",
    )
    assert (events[2].program, events[2].pid, events[2].src_ip) == ("sshd", 811, "2001:db8::7")
    assert events[2].ts == datetime(2024, 3, 1, 9, 20, 32, 500000, tzinfo=UTC)
    assert (events[3].host, events[3].program, events[3].message) == (None, None, "no app")


def test_bom_and_missing_host(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffJun 14 15:16:01 sshd[7]: Invalid user x from 10.0.0.9\n")
    (event,) = read_auth_log(path, year=2024)
    assert (event.host, event.program, event.pid, event.action) == (None, "sshd", 7, "invalid_user")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "error: maximum authentication attempts exceeded for invalid user x from 1.2.3.4 "
            "port 5 ssh2 [preauth]",
            ("too_many_failures", "x", "1.2.3.4", 5, None),
        ),
        (
            "Disconnecting authenticating user root 1.2.3.4 port 5: Too many authentication "
            "failures [preauth]",
            ("too_many_failures", "root", "1.2.3.4", 5, None),
        ),
        (
            "Disconnecting: Too many authentication failures for admin [preauth]",
            ("too_many_failures", "admin", None, None, None),
        ),
        (
            "PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= "
            "rhost=1.2.3.4  user=root",
            ("too_many_failures", "root", "1.2.3.4", None, None),
        ),
        (
            "Received disconnect from 1.2.3.4 port 5:11: Bye Bye [preauth]",
            ("disconnect", None, "1.2.3.4", 5, None),
        ),
        (
            "Received disconnect from 139.59.209.18: 11: Bye Bye [preauth]",
            ("disconnect", None, "139.59.209.18", None, None),
        ),
        (
            "Address 1.2.3.4 maps to x.example, but this does not map back to the address - "
            "POSSIBLE BREAK-IN ATTEMPT!",
            ("break_in_attempt", None, "1.2.3.4", None, None),
        ),
        (
            "message repeated 3 times: [ Failed password for root from 1.2.3.4 port 9 ssh2]",
            ("auth_failure", "root", "1.2.3.4", 9, "password"),
        ),
        (
            "pam_unix(sshd:session): session closed for user bob",
            ("session_close", "bob", None, None, None),
        ),
        (
            "fatal: Write failed: Connection reset by peer [preauth]",
            ("other", None, None, None, None),
        ),
    ],
)
def test_classify_message(message: str, expected: tuple[object, ...]) -> None:
    assert classify_message(message) == expected


# --- bad input ----------------------------------------------------------------------------


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="empty file"):
        read_auth_log(write(tmp_path, ""))
    with pytest.raises(InputError, match="empty file"):
        read_auth_log(write(tmp_path, "\n  \n", "blank.log"))


def test_line_without_timestamp_is_bad_input(tmp_path: Path) -> None:
    path = write(tmp_path, "Jun 14 15:16:01 combo sshd[1]: ok\nthis is not syslog\n")
    with pytest.raises(InputError) as info:
        read_auth_log(path, year=2024)
    assert info.value.line == 2
    assert "no RFC 3164" in str(info.value)
    log = SkipLog()
    events = read_auth_log(path, year=2024, skip_bad=True, skip_log=log)
    assert len(events) == 1 and log.count == 1 and first_skipped_line(log, path) == 2


def test_undecodable_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, b"Jun 14 15:16:01 combo sshd[1]: user \xff\xfe\n")
    with pytest.raises(InputError, match="not valid UTF-8") as info:
        read_auth_log(path, year=2024)
    assert info.value.line == 1
    log = SkipLog()
    assert read_auth_log(path, year=2024, skip_bad=True, skip_log=log) == []
    assert log.count == 1


def test_impossible_date(tmp_path: Path) -> None:
    path = write(tmp_path, "Feb 29 10:00:00 h sshd[1]: x\n")
    assert read_auth_log(path, year=2024)[0].ts.day == 29
    with pytest.raises(InputError, match="impossible date"):
        read_auth_log(path, year=2023)


def test_bad_year_argument(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="year"):
        read_auth_log(write(tmp_path, "Feb 1 10:00:00 h x: y\n"), year=0)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot open"):
        read_auth_log(tmp_path / "nope.log")


def test_progress_reports_bytes(tmp_path: Path) -> None:
    path = write(tmp_path, "Jun 14 15:16:01 combo sshd[1]: ok\n" * 3)
    seen: list[int] = []
    read_auth_log(path, year=2024, progress=seen.append)
    assert seen[-1] == path.stat().st_size


# --- golden files -------------------------------------------------------------------------


def golden_cases() -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "input.log").is_file())


def dump_events(events: list[LogEvent], path: Path) -> list[dict[str, Any]]:
    out = []
    for event in events:
        data = event.model_dump(mode="json", exclude={"uid"}, exclude_none=True)
        data["source_file"] = data["source_file"].replace(str(path), "input.log")
        out.append(data)
    return out


@pytest.mark.parametrize("case", golden_cases())
def test_golden(case: str) -> None:
    folder = GOLDEN / case
    args = json.loads((folder / "args.json").read_text()) if (folder / "args.json").exists() else {}
    path = folder / "input.log"
    got = dump_events(read_auth_log(path, **args), path)
    expected_path = folder / "expected.json"
    if REGEN:
        expected_path.write_text(json.dumps(got, indent=1) + "\n", encoding="utf-8")
    assert got == json.loads(expected_path.read_text(encoding="utf-8"))
