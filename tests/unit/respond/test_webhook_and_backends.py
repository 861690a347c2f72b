import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from swarmguard.errors import SwarmguardError
from swarmguard.records.decision import Decision
from swarmguard.respond.base import ENFORCERS, Enforcer
from swarmguard.respond.builtins import register_builtins
from swarmguard.respond.enforcers.nftables import table_script
from swarmguard.respond.enforcers.webhook import WebhookEnforcer
from swarmguard.respond.nft import NftCli, NftError, open_nft
from swarmguard.respond.nftworker import serve

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Hook:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.auth: list[str | None] = []
        self.fail_first = 0


@pytest.fixture
def hook_server() -> Iterator[tuple[str, Hook]]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if state.fail_first > 0:
                state.fail_first -= 1
                self.send_response(503)
                self.end_headers()
                return
            state.bodies.append(json.loads(body))
            state.auth.append(self.headers.get("Authorization"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _d(action: str = "notify") -> Decision:
    return Decision(
        ts=T0,
        action=action,
        scope="ip",
        value="203.0.113.7",
        ttl_s=60,
        origin="t",
        simulated=False,
    )


def test_webhook_posts_decisions_and_revocations(hook_server: tuple[str, Hook]) -> None:
    url, state = hook_server
    hook = WebhookEnforcer(url=url, token="s3cret", backoff_s=0.01, clock=lambda: T0)
    d = _d()
    fb = hook.apply(d)
    assert fb.status == "applied" and "HTTP 204" in fb.detail
    assert state.bodies[0]["event"] == "decision"
    assert state.bodies[0]["decision"]["uid"] == d.uid
    assert state.auth == ["Bearer s3cret"]
    assert hook.list() == ["203.0.113.7"]
    state.fail_first = 1
    fb = hook.revoke(d)
    assert fb.status == "revoked" and "(try 2)" in fb.detail
    assert state.bodies[-1]["event"] == "revoke" and hook.list() == []
    hook.close()


def test_webhook_failure_is_reported_after_retries(hook_server: tuple[str, Hook]) -> None:
    url, state = hook_server
    state.fail_first = 10
    hook = WebhookEnforcer(url=url, retries=2, backoff_s=0.01)
    fb = hook.apply(_d())
    assert fb.status == "failed" and fb.detail == "HTTP 503 after 3 tries"
    down = WebhookEnforcer(url="http://127.0.0.1:9/none", retries=0, timeout_s=0.5)
    fb = down.apply(_d())
    assert fb.status == "failed" and "ConnectError" in fb.detail
    hook.close()
    down.close()


def test_registry_builds_every_enforcer_and_they_satisfy_the_protocol() -> None:
    register_builtins()
    builds: dict[str, dict[str, Any]] = {
        "dryrun": {},
        "nftables": {"netns": "sgr-none"},
        "quarantine": {"management": ["192.0.2.0/24"]},
        "webhook": {"url": "http://127.0.0.1:9"},
    }
    for name, kwargs in builds.items():
        enforcer = ENFORCERS.get(name)(**kwargs)
        assert isinstance(enforcer, Enforcer) and enforcer.name == name


def test_table_script_touches_only_its_table() -> None:
    script = table_script("swarmguard")
    for line in script.splitlines():
        words = line.split()
        assert words[0] in ("add", "flush") and words[2:4] == ["inet", "swarmguard"], line
    assert "flush ruleset" not in script and "delete" not in script
    with pytest.raises(SwarmguardError, match="bad table name"):
        from swarmguard.respond.enforcers.nftables import NftablesEnforcer

        NftablesEnforcer(table="x; flush ruleset")


def test_worker_protocol_reports_errors() -> None:
    class Fake:
        def run(self, script: str, *, json_output: bool = False, echo: bool = False) -> str:
            if "bad" in script:
                raise NftError("syntax error")
            return "ok"

        def close(self) -> None:
            pass

    out = io.StringIO()
    serve(Fake(), io.StringIO('{"script": "bad"}\n\nnot json\n{"script": "good"}\n'), out)
    replies = [json.loads(line) for line in out.getvalue().splitlines()]
    assert replies[0] == {"ready": True}
    assert [r["rc"] for r in replies[1:]] == [1, 2, 0]
    assert replies[1]["err"] == "syntax error"


def test_cli_backend_reports_nft_errors(tmp_path: Any) -> None:
    cli = NftCli()
    cli.command = ["false"]
    with pytest.raises(NftError, match="nft exited 1"):
        cli.run("list tables")
    assert isinstance(open_nft("cli"), NftCli)
