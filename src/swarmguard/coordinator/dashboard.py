"""The dashboard: one HTML page with vanilla JavaScript, served by the coordinator at /dashboard.

It polls the admin API every two seconds: agents (health, last seen), the newest alerts, the
decisions in force with a TTL countdown and a revoke button, and the alert rate drawn on a
canvas. The admin token is asked for once and kept in ``sessionStorage`` (gone when the tab
closes). No build step, no third-party code.

Examples
--------
>>> '<canvas id="rate"' in PAGE and "sessionStorage" in PAGE
True
"""

from __future__ import annotations

__all__ = ["PAGE"]

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>swarmguard coordinator</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 10px 18px; display: flex;
           align-items: center; gap: 16px; }
  header h1 { font-size: 18px; margin: 0; flex: 1; }
  main { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; padding: 14px; }
  section { background: #fff; border-radius: 6px; padding: 10px 14px;
            box-shadow: 0 1px 2px rgba(0,0,0,.08); overflow: auto; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 15px; margin: 4px 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #e6e8ec;
           white-space: nowrap; }
  th { font-weight: 600; color: #555; }
  .ok { color: #1a7f37; } .down { color: #c62828; } .muted { color: #888; }
  button.revoke { background: #c62828; color: #fff; border: 0; border-radius: 4px;
                  padding: 3px 10px; cursor: pointer; }
  #status { font-size: 12px; }
  #login { display: flex; gap: 6px; }
  canvas { width: 100%; height: 160px; }
</style>
</head>
<body>
<header>
  <h1>swarmguard coordinator</h1>
  <span id="status" class="muted">not connected</span>
  <form id="login">
    <input id="token" type="password" placeholder="admin token" autocomplete="off">
    <button id="save-token" type="submit">Connect</button>
  </form>
</header>
<main>
  <section class="wide">
    <h2>Alert rate <span id="totals" class="muted"></span></h2>
    <canvas id="rate" width="1200" height="160"></canvas>
  </section>
  <section class="wide">
    <h2>Decisions in force</h2>
    <table id="decisions">
      <thead><tr><th>action</th><th>target</th><th>origin</th><th>why</th>
        <th>confidence</th><th>TTL left</th><th></th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Agents</h2>
    <table id="agents">
      <thead><tr><th>agent</th><th>health</th><th>last seen</th><th>version</th>
        <th>enforcers</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2>Live alerts</h2>
    <table id="alerts">
      <thead><tr><th>time</th><th>agent</th><th>source</th><th>category</th>
        <th>signature</th><th>score</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
<script>
"use strict";
const KEY = "swarmguard-admin-token";
let skew = 0;            // server time minus browser time, seconds
let decisions = [];

function token() { return sessionStorage.getItem(KEY) || ""; }

async function api(method, path) {
  const res = await fetch(path, {method, headers: {"Authorization": "Bearer " + token()}});
  if (!res.ok) {
    let detail = res.statusText;
    try { detail = (await res.json()).detail; } catch (e) { /* not JSON */ }
    throw new Error(res.status + " " + detail);
  }
  return res.json();
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function ago(seconds) {
  if (seconds < 60) return Math.round(seconds) + " s ago";
  if (seconds < 3600) return Math.round(seconds / 60) + " min ago";
  return Math.round(seconds / 3600) + " h ago";
}

function left(seconds) {
  if (seconds <= 0) return "expired";
  const h = Math.floor(seconds / 3600), m = Math.floor(seconds % 3600 / 60);
  const s = Math.floor(seconds % 60);
  return (h ? h + "h " : "") + (h || m ? m + "m " : "") + s + "s";
}

function now() { return Date.now() / 1000 + skew; }

function renderAgents(agents) {
  const body = document.querySelector("#agents tbody");
  body.replaceChildren();
  for (const a of agents) {
    const tr = document.createElement("tr");
    cell(tr, a.agent_id);
    const health = Object.entries(a.health).map(([k, v]) => k + "=" + v).join(" ");
    cell(tr, (a.alive ? "up " : "down ") + health, a.alive ? "ok" : "down");
    cell(tr, ago(now() - a.last_seen));
    cell(tr, a.version);
    cell(tr, a.enforcers.join(", "));
    body.appendChild(tr);
  }
}

function renderAlerts(items) {
  const body = document.querySelector("#alerts tbody");
  body.replaceChildren();
  for (const item of items) {
    const a = item.alert, tr = document.createElement("tr");
    cell(tr, new Date(a.ts).toLocaleTimeString());
    cell(tr, item.agent_id);
    cell(tr, a.src_ip || "");
    cell(tr, a.alert.category);
    cell(tr, a.alert.signature);
    cell(tr, Number(a.score).toFixed(2));
    body.appendChild(tr);
  }
}

function renderDecisions() {
  const body = document.querySelector("#decisions tbody");
  body.replaceChildren();
  for (const d of decisions) {
    const tr = document.createElement("tr");
    tr.dataset.uid = d.uid;
    cell(tr, d.action + (d.simulated ? " (dry-run)" : ""));
    cell(tr, d.value);
    cell(tr, d.origin);
    cell(tr, d.reason.summary || d.reason.category || d.policy);
    cell(tr, Number(d.confidence).toFixed(2));
    const ttl = cell(tr, "", "ttl");
    ttl.dataset.expires = String(Date.parse(d.ts) / 1000 + d.ttl_s);
    const td = document.createElement("td");
    const button = document.createElement("button");
    button.className = "revoke";
    button.dataset.uid = d.uid;
    button.textContent = "Revoke";
    button.addEventListener("click", () => revoke(d.uid, button));
    td.appendChild(button);
    tr.appendChild(td);
    body.appendChild(tr);
  }
  tick();
}

function tick() {
  for (const td of document.querySelectorAll("#decisions td.ttl")) {
    td.textContent = left(Number(td.dataset.expires) - now());
  }
}

function drawRate(stats) {
  const canvas = document.getElementById("rate"), ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 28;
  ctx.clearRect(0, 0, w, h);
  const n = Math.round(600 / stats.bucket_s);
  const start = stats.now - n * stats.bucket_s;
  const counts = new Array(n).fill(0);
  for (const p of stats.rate) {
    const i = Math.floor((p.t - start) / stats.bucket_s);
    if (i >= 0 && i < n) counts[i] += p.count;
  }
  const rates = counts.map(c => c / stats.bucket_s);
  const top = Math.max(1, ...rates);
  ctx.strokeStyle = "#ccd"; ctx.fillStyle = "#555"; ctx.font = "11px sans-serif";
  ctx.beginPath(); ctx.moveTo(pad, h - pad); ctx.lineTo(w, h - pad); ctx.stroke();
  ctx.fillText(top.toFixed(1) + " alerts/s", 2, 12);
  ctx.fillText("-10 min", pad, h - 8); ctx.fillText("now", w - 26, h - 8);
  ctx.strokeStyle = "#1f6feb"; ctx.lineWidth = 2; ctx.beginPath();
  rates.forEach((r, i) => {
    const x = pad + (w - pad) * i / Math.max(1, n - 1);
    const y = h - pad - (h - 2 * pad) * r / top;
    if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
  });
  ctx.stroke();
  document.getElementById("totals").textContent =
    stats.alerts_total + " alerts, " + stats.agents + " agents, " +
    stats.decisions_active + " decisions in force";
}

async function revoke(uid, button) {
  button.disabled = true;
  try {
    await api("DELETE", "/api/v1/decisions/" + encodeURIComponent(uid) + "?reason=dashboard");
    decisions = decisions.filter(d => d.uid !== uid);
    renderDecisions();
    setStatus("revoked " + uid, "ok");
  } catch (e) {
    button.disabled = false;
    setStatus("revoke failed: " + e.message, "down");
  }
}

function setStatus(text, cls) {
  const el = document.getElementById("status");
  el.textContent = text;
  el.className = cls;
}

async function refresh() {
  if (!token()) { setStatus("enter the admin token", "muted"); return; }
  try {
    const [agents, alerts, active, stats] = await Promise.all([
      api("GET", "/api/v1/agents"), api("GET", "/api/v1/alerts?limit=50"),
      api("GET", "/api/v1/decisions"), api("GET", "/api/v1/stats?minutes=10&bucket_s=10"),
    ]);
    skew = stats.now - Date.now() / 1000;
    renderAgents(agents.agents);
    renderAlerts(alerts.alerts);
    decisions = active.decisions;
    renderDecisions();
    drawRate(stats);
    setStatus("updated " + new Date().toLocaleTimeString(), "ok");
  } catch (e) {
    setStatus(e.message, "down");
  }
}

document.getElementById("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const input = document.getElementById("token");
  sessionStorage.setItem(KEY, input.value);
  input.value = "";
  refresh();
});
refresh();
setInterval(refresh, 2000);
setInterval(tick, 1000);
</script>
</body>
</html>
"""
