"""The dashboard in real headless Chromium (Debian's, through selenium and chromedriver).

A coordinator runs on 127.0.0.1; the test seeds an agent, alerts and a decision through the API,
opens /dashboard, enters the admin token, takes a screenshot, checks the decisions table and that
the revoke button revokes the decision (the API then shows it revoked).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ADMIN = "dash-admin-token"
AGENT_TOKEN = "dash-edge1-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def coordinator(tmp_path: Path) -> Iterator[str]:
    tokens = tmp_path / "tokens.json"
    tokens.write_text(f'{{"edge1": "{AGENT_TOKEN}"}}', encoding="utf-8")
    port = _free_port()
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "swarmguard.cli.coordinator_serve",
            "--port",
            str(port),
            "--db",
            str(tmp_path / "c.db"),
            "--tokens",
            str(tokens),
            "--no-correlate",
        ],  # fmt: skip
        env={**os.environ, "SWARMGUARD_ADMIN_TOKEN": ADMIN},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                assert proc.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline, "the coordinator did not start"
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _seed(url: str) -> str:
    agent = {"Authorization": f"Bearer {AGENT_TOKEN}"}
    with httpx.Client(base_url=url, headers=agent, timeout=10) as c:
        body = {"agent_id": "edge1", "version": "0.1.0", "enforcers": ["nftables"]}
        c.post("/api/v1/agents/register", json=body).raise_for_status()
        c.post("/api/v1/agents/edge1/heartbeat", json={"health": {"queue": 0}}).raise_for_status()
        now = datetime.now(UTC).isoformat()
        alerts = [
            {
                "ts": now,
                "uid": f"dash-{i}",
                "sensor_id": "edge1",
                "src_ip": "203.0.113.50",
                "dest_ip": "198.51.100.10",
                "dest_port": 22,
                "proto": "TCP",
                "alert": {
                    "signature_id": 9,
                    "signature": "ssh brute force",
                    "category": "brute_force",
                    "severity": 2,
                },  # fmt: skip
                "detector": "rules",
                "score": 0.95,
            }
            for i in range(12)
        ]
        c.post("/api/v1/alerts", json={"batch_id": "dash", "alerts": alerts}).raise_for_status()
        decision = {
            "ts": now,
            "action": "block",
            "scope": "ip",
            "value": "203.0.113.50",
            "ttl_s": 3600,
            "origin": "agent:edge1",
            "reason": {
                "alert_uids": ["dash-0"],
                "category": "brute_force",
                "summary": "12 failed ssh logins",
            },  # fmt: skip
            "confidence": 0.9,
        }
        c.post("/api/v1/decisions", json={"decisions": [decision]}).raise_for_status()
    admin = {"Authorization": f"Bearer {ADMIN}"}
    (active,) = httpx.get(f"{url}/api/v1/decisions", headers=admin).json()["decisions"]
    return str(active["uid"])


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def test_dashboard_shows_and_revokes(coordinator: str, tmp_path: Path) -> None:
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists() or shutil.which("chromium") is None:
        pytest.fail("needs Debian's chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    uid = _seed(coordinator)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
                "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        wait = WebDriverWait(driver, 20)
        driver.get(f"{coordinator}/dashboard")
        driver.find_element(By.ID, "token").send_keys(ADMIN)
        driver.find_element(By.ID, "save-token").click()
        row_css = f'#decisions tbody tr[data-uid="{uid}"]'
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, row_css))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#alerts tbody tr"))
        assert (
            driver.execute_script("return sessionStorage.getItem('swarmguard-admin-token')")
            == ADMIN
        )

        row = driver.find_element(By.CSS_SELECTOR, row_css)
        assert "203.0.113.50" in row.text and "block" in row.text
        ttl = row.find_element(By.CSS_SELECTOR, "td.ttl").text
        assert re.fullmatch(r"(59m \d+s|1h 0m 0s)", ttl), ttl
        agents = driver.find_element(By.CSS_SELECTOR, "#agents tbody").text
        assert "edge1" in agents and "up" in agents
        assert len(driver.find_elements(By.CSS_SELECTOR, "#alerts tbody tr")) == 12
        assert "12 alerts" in driver.find_element(By.ID, "totals").text

        shot = tmp_path / "dashboard.png"
        assert driver.save_screenshot(str(shot))
        width, height = _png_size(shot)
        assert width >= 800 and height >= 600 and shot.stat().st_size > 20_000

        row.find_element(By.CSS_SELECTOR, "button.revoke").click()
        wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, row_css))
        admin = {"Authorization": f"Bearer {ADMIN}"}
        info: dict[str, Any] = httpx.get(
            f"{coordinator}/api/v1/decisions/{uid}/explain", headers=admin
        ).json()
        assert info["state"] == "revoked" and info["revocation"]["by"] == "admin"
        assert httpx.get(f"{coordinator}/api/v1/decisions", headers=admin).json()["decisions"] == []
        # The token stays for the session: a reload needs no new login.
        driver.refresh()
        wait.until(lambda d: "updated" in d.find_element(By.ID, "status").text)
        assert not driver.find_elements(By.CSS_SELECTOR, row_css)
    finally:
        driver.quit()
