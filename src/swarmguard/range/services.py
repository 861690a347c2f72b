"""Services on the range's hosts: nginx, sshd, vsftpd, dnsmasq, the C2 server and fail2ban.

Each daemon runs in its host's namespace with its own configuration, pid and log files under
``workdir/services/<host>/`` (never the system's defaults). The SSH server has a test user
``alice`` with a weak password (in the attack word list) and a key the benign users log in
with; the user exists only inside that namespace (``/etc/netns/<ns>/passwd`` and ``shadow``).

>>> "address=/beacon.example/10.209.0.10" in dnsmasq_conf("10.202.0.10", {}, "10.209.0.10",
...     Path("/x"))
True
>>> SSH_USER, SSH_PASSWORD in WORDLIST
('alice', True)
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from swarmguard.errors import SwarmguardError
from swarmguard.range.topology import HostAddr, RangeNet, sh

__all__ = [
    "C2_DOMAINS",
    "SSH_PASSWORD",
    "SSH_USER",
    "WORDLIST",
    "Services",
    "dnsmasq_conf",
]

SSH_USER = "alice"
"""The SSH server's test user (benign users log in with a key; attackers guess passwords)."""
SSH_PASSWORD = "sunshine"  # noqa: S105 - a deliberately weak test password, only in the range
WORDLIST = [
    "123456", "password", "admin", "root", "qwerty", "letmein", "welcome", "monkey",
    "dragon", "master", "secret", "shadow", "princess", "football", "iloveyou",
    "trustno1", "abc123", "changeme", "passw0rd", "hunter2", "baseball", "superman",
    "batman", "starwars", "whatever", "freedom", "mustang", "michael", "jennifer", "jordan",
    "harley", "ranger", "buster", "tigger", "soccer", "hockey", "killer", "george",
    "summer", "winter", "spring", "autumn", "pepper", "ginger", "cookie", "charlie",
    SSH_PASSWORD,
]  # fmt: skip
"""Passwords hydra tries, in order; the weak one comes last."""
C2_DOMAINS = ("beacon.example", "exfil-dns.example", "exfil-http.example")
"""Domains the sandbox samples call; the campus resolver points them at the C2 server."""

_STAMP = (
    "import socket,sys,time\n"
    "h=socket.gethostname() if len(sys.argv)<2 else sys.argv[1]\n"
    "for line in sys.stdin:\n"
    "    sys.stdout.write(time.strftime('%b %e %H:%M:%S ')+h+' sshd[0]: '+line)\n"
    "    sys.stdout.flush()\n"
)
_C2 = r"""
import http.server, json, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def _ok(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        print(json.dumps({"ts": time.time(), "src": self.client_address[0], "method":
              self.command, "path": self.path, "bytes": len(body)}), flush=True)
        self.send_response(200); self.send_header("Content-Length", "3"); self.end_headers()
        self.wfile.write(b"ok\n")
    do_GET = do_POST = do_PUT = _ok
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer((sys.argv[1], 80), H).serve_forever()
"""


def dnsmasq_conf(ip: str, records: dict[str, str], c2_ip: str, base: Path) -> str:
    """Dnsmasq's configuration: the campus names, the C2 domains, logging to ``base``."""
    lines = [
        "no-resolv", "no-hosts", "bind-interfaces", f"listen-address={ip}", "port=53",
        f"pid-file={base / 'dnsmasq.pid'}", f"log-facility={base / 'dnsmasq.log'}",
        "log-queries", "user=root", "group=root", "domain=campus", "local=/campus/",
    ]  # fmt: skip
    lines += [f"host-record={name}.campus,{addr}" for name, addr in sorted(records.items())]
    lines += [f"address=/{d}/{c2_ip}" for d in C2_DOMAINS]
    return "\n".join(lines) + "\n"


def _www(root: Path, host: str) -> None:
    (root / "news").mkdir(parents=True, exist_ok=True)
    (root / "index.html").write_text(f"<h1>{host}</h1>\n" + "<p>campus portal</p>\n" * 40)
    (root / "about.html").write_text("<p>about this campus</p>\n" * 60)
    for i in range(5):
        (root / "news" / f"{i}.html").write_text(f"<p>news item {i}</p>\n" * (30 + 20 * i))


class Services:
    """Starts the scenario's services on their hosts and checks each is listening."""

    def __init__(self, net: RangeNet) -> None:
        self.net = net
        self.base = net.workdir / "services"
        self.ssh_key = self.base / "user_key"
        self.sshd_logs: dict[str, Path] = {}

    def dir(self, host: str) -> Path:
        """The folder of ``host``'s configuration and logs."""
        path = self.base / host
        path.mkdir(parents=True, exist_ok=True)
        return path

    def start_all(self) -> None:
        """Start every service the scenario names, the C2 server and the hosts' resolver."""
        net, sc = self.net, self.net.scenario
        self.base.mkdir(parents=True, exist_ok=True)
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.ssh_key))
        dns = sc.dns_server()
        if dns:
            for host in net.plan.values():
                if host.zone != "attacker":
                    (net.etc(host.name) / "resolv.conf").write_text(
                        f"nameserver {net.plan[dns].ip}\nsearch campus\noptions timeout:2\n"
                    )
        waits: list[tuple[str, int]] = []
        for zone in sc.zones:
            for h in zone.hosts:
                addr = net.plan[h.name]
                if {"sshd", "vsftpd"} & set(h.services):
                    self._account(addr)
                for service in h.services:
                    getattr(self, f"_{service}")(addr)
                    waits += [
                        (addr.ip, p)
                        for p in {"nginx": [80], "sshd": [22], "vsftpd": [21]}.get(service, [])
                    ]
        self._c2(net.plan["c2"])
        waits.append((net.plan["c2"].ip, 80))
        probe = "c2"
        for ip, port in waits:
            net.wait_for(lambda i=ip, p=port: net.port_open(probe, i, p), f"{ip}:{port}", 30)

    # ------------------------------------------------------------------ daemons
    def _nginx(self, h: HostAddr) -> None:
        d = self.dir(h.name)
        _www(d / "www", h.name)
        temps = " ".join(
            f"{k}_temp_path {d / k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        conf = d / "nginx.conf"
        conf.write_text(
            f"daemon off; master_process on; worker_processes 1; user root;\n"
            f"pid {d / 'nginx.pid'}; error_log {d / 'nginx-error.log'} info;\n"
            "events { worker_connections 1024; }\n"
            f"http {{ access_log {d / 'nginx-access.log'}; {temps}\n"
            "  default_type text/html; keepalive_timeout 5;\n"
            f"  server {{ listen {h.ip}:80; root {d / 'www'}; }} }}\n"
        )
        self.net.start(f"nginx-{h.name}", h.name, "/usr/sbin/nginx", "-p", str(d), "-e",
                       str(d / "nginx-error.log"), "-c", str(conf))  # fmt: skip

    def _account(self, h: HostAddr) -> None:
        """The test user in ``h``'s own view of /etc (passwd, shadow, group)."""
        etc = self.net.etc(h.name)
        home = self.dir(h.name) / "home"
        home.mkdir(exist_ok=True)
        digest = sh("openssl", "passwd", "-6", SSH_PASSWORD).stdout.strip()
        for name, line in (
            ("passwd", f"{SSH_USER}:x:2901:2901:range test user:{home}:/bin/sh"),
            ("shadow", f"{SSH_USER}:{digest}:19000:0:99999:7:::"),
            ("group", f"{SSH_USER}:x:2901:"),
        ):
            text = Path(f"/etc/{name}").read_text()
            (etc / name).write_text(text.rstrip("\n") + "\n" + line + "\n")
            (etc / name).chmod(0o640 if name == "shadow" else 0o644)

    def _sshd(self, h: HostAddr) -> None:
        d = self.dir(h.name)
        keys = d / "authorized_keys"
        shutil.copy(self.ssh_key.with_suffix(".pub"), keys)
        hostkey = d / "ssh_host_ed25519_key"
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(hostkey))
        conf = d / "sshd_config"
        conf.write_text(
            f"ListenAddress {h.ip}\nPort 22\nHostKey {hostkey}\nPidFile {d / 'sshd.pid'}\n"
            "AuthorizedKeysFile none\n"
            f"AuthorizedKeysCommand /bin/cat {keys}\nAuthorizedKeysCommandUser root\n"
            "UsePAM no\nPasswordAuthentication yes\n"
            "KbdInteractiveAuthentication no\nPermitRootLogin no\nStrictModes no\n"
            "MaxStartups 100:30:200\nMaxAuthTries 6\nLoginGraceTime 20\nUseDNS no\n"
        )
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        log = d / "sshd.log"
        self.sshd_logs[h.name] = log
        stamp = d / "stamp.py"
        stamp.write_text(_STAMP)
        self.net.start(
            f"sshd-{h.name}", h.name, "bash", "-c",
            f"/usr/sbin/sshd -D -e -f {conf} 2>&1 | {sys.executable} -u {stamp} {h.name} >> {log}",
        )  # fmt: skip

    def _vsftpd(self, h: HostAddr) -> None:
        d = self.dir(h.name)
        (d / "ftp" / "pub").mkdir(parents=True, exist_ok=True)
        (d / "ftp").chmod(0o555)
        (d / "ftp" / "pub" / "readme.txt").write_text("campus file share\n" * 200)
        (d / "empty").mkdir(exist_ok=True)
        conf = d / "vsftpd.conf"
        conf.write_text(
            f"listen=YES\nlisten_ipv6=NO\nlisten_address={h.ip}\nbackground=NO\n"
            f"anonymous_enable=YES\nanon_root={d / 'ftp'}\nno_anon_password=YES\n"
            "local_enable=YES\npam_service_name=vsftpd\nwrite_enable=NO\nseccomp_sandbox=NO\n"
            f"secure_chroot_dir={d / 'empty'}\nxferlog_enable=YES\n"
            f"vsftpd_log_file={d / 'vsftpd.log'}\nlog_ftp_protocol=YES\ndual_log_enable=YES\n"
            f"xferlog_file={d / 'xferlog'}\npasv_enable=YES\npasv_min_port=40000\n"
            "pasv_max_port=40100\nmax_clients=200\nmax_per_ip=50\n"
        )
        self.net.start(f"vsftpd-{h.name}", h.name, "/usr/sbin/vsftpd", str(conf))

    def _dnsmasq(self, h: HostAddr) -> None:
        d = self.dir(h.name)
        records = {a.name: a.ip for a in self.net.plan.values() if a.zone != "attacker"}
        conf = d / "dnsmasq.conf"
        conf.write_text(dnsmasq_conf(h.ip, records, self.net.plan["c2"].ip, d))
        self.net.start(f"dnsmasq-{h.name}", h.name, "/usr/sbin/dnsmasq", "-k", "-C", str(conf))

    def _c2(self, h: HostAddr) -> None:
        d = self.dir(h.name)
        script = d / "c2.py"
        script.write_text(_C2)
        self.net.start("c2", h.name, sys.executable, str(script), h.ip)

    # ------------------------------------------------------------------ server-side view
    def attempts(self, tool: str, host: str, src_ip: str) -> tuple[int | None, bool | None]:
        """How many tries of ``tool`` from ``src_ip`` reached ``host``'s service, and any success.

        SSH and FTP guesses are counted from sshd's and vsftpd's logs, web requests from
        nginx's access log; other tools give ``(None, None)``.
        """
        d = self.base / host
        if tool == "hydra-ssh":
            lines = _lines(d / "sshd.log", f"from {src_ip} port")
            fails = sum("Failed password" in x or "Invalid user" in x for x in lines)
            ok = sum("Accepted password" in x for x in lines)
            return fails + ok, ok > 0
        if tool == "hydra-ftp":
            lines = _lines(d / "vsftpd.log", f'Client "{src_ip}"')
            fails = sum("FAIL LOGIN" in x for x in lines)
            ok = sum("OK LOGIN" in x for x in lines)
            return fails + ok, ok > 0
        if tool in ("curl-web", "slowhttptest"):
            return len(_lines(d / "nginx-access.log", f"{src_ip} ", start=True)), None
        return None, None

    # ------------------------------------------------------------------ fail2ban
    def start_fail2ban(self, host: str) -> Path:
        """A real ``fail2ban-server`` in ``host``'s namespace: sshd jail, nftables ban action."""
        if host not in self.sshd_logs:
            raise SwarmguardError(f"fail2ban: {host} runs no sshd")
        d = self.dir(f"{host}-fail2ban")
        conf = d / "etc"
        shutil.copytree("/etc/fail2ban", conf, dirs_exist_ok=True)
        for extra in (conf / "jail.d").glob("*"):
            extra.unlink()
        log = d / "fail2ban.log"
        sock = self.net.scratch_dir("f2b") / "f2b.sock"
        (conf / "fail2ban.local").write_text(
            f"[Definition]\nloglevel = INFO\nlogtarget = {log}\nsocket = {sock}\n"
            f"pidfile = {d / 'f2b.pid'}\ndbfile = {d / 'f2b.sqlite3'}\n"
        )
        (conf / "jail.local").write_text(
            "[DEFAULT]\nbackend = polling\nusedns = no\nignoreip = 127.0.0.1/8\n"
            "banaction = nftables-allports\nbantime = 600\nfindtime = 120\nmaxretry = 5\n"
            f"\n[sshd]\nenabled = true\nport = 22\nlogpath = {self.sshd_logs[host]}\n"
            "mode = aggressive\n"
        )
        self.net.start(
            f"fail2ban-{host}", host, "fail2ban-server", "-f", "-x", "-c", str(conf),
            "-s", str(sock), "-p", str(d / "f2b.pid"), "--logtarget", str(log),
        )  # fmt: skip

        def ready() -> bool:
            res = self.net.run_in(
                host, "fail2ban-client", "-s", str(sock), "status", "sshd", timeout=10
            )
            return res.returncode == 0

        self.net.wait_for(ready, "fail2ban's sshd jail", 30)
        return log


def _lines(path: Path, needle: str, *, start: bool = False) -> list[str]:
    if not path.exists():
        return []
    text = path.read_text(errors="replace").splitlines()
    return [x for x in text if (x.startswith(needle) if start else needle in x)]


def check_tools() -> list[str]:
    """The programs the range needs that are missing here.

    >>> isinstance(check_tools(), list)
    True
    """
    need = ["ip", "nginx", "dnsmasq", "vsftpd", "sshd", "ssh", "ssh-keygen", "openssl", "tcpdump",
            "nmap", "masscan", "hping3", "hydra", "slowhttptest", "curl", "timeout"]  # fmt: skip
    path = "/usr/sbin:/usr/bin:/sbin:/bin"
    return [t for t in need if shutil.which(t, path=path) is None]
