"""Rule header addresses and ports: variables, lists, ranges and negation.

Suricata's default variables are built in (``$HOME_NET`` is the private ranges,
``$EXTERNAL_NET`` is ``!$HOME_NET``, ...); ``RuleVars`` can override them (for example from a
``suricata.yaml`` ``vars:`` section).

Examples
--------
>>> v = RuleVars()
>>> home = parse_addresses("$HOME_NET", v)
>>> home.matches("10.1.2.3"), home.matches("8.8.8.8")
(True, False)
>>> parse_addresses("!$HOME_NET", v).matches("8.8.8.8")
True
>>> ports = parse_ports("[80,1024:,!8080]", v)
>>> ports.matches(80), ports.matches(8080), ports.matches(5000), ports.matches(22)
(True, False, True, False)
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_ADDRESS_VARS",
    "DEFAULT_PORT_VARS",
    "AddressSpec",
    "PortSpec",
    "RuleVars",
    "VariableError",
    "parse_addresses",
    "parse_ports",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_ADDRESS_VARS: dict[str, str] = {
    "HOME_NET": "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]",
    "EXTERNAL_NET": "!$HOME_NET",
    "HTTP_SERVERS": "$HOME_NET",
    "SMTP_SERVERS": "$HOME_NET",
    "SQL_SERVERS": "$HOME_NET",
    "DNS_SERVERS": "$HOME_NET",
    "TELNET_SERVERS": "$HOME_NET",
    "AIM_SERVERS": "$EXTERNAL_NET",
    "DC_SERVERS": "$HOME_NET",
    "DNP3_SERVER": "$HOME_NET",
    "DNP3_CLIENT": "$HOME_NET",
    "MODBUS_CLIENT": "$HOME_NET",
    "MODBUS_SERVER": "$HOME_NET",
    "ENIP_CLIENT": "$HOME_NET",
    "ENIP_SERVER": "$HOME_NET",
}
DEFAULT_PORT_VARS: dict[str, str] = {
    "HTTP_PORTS": "80",
    "SHELLCODE_PORTS": "!80",
    "ORACLE_PORTS": "1521",
    "SSH_PORTS": "22",
    "DNP3_PORTS": "20000",
    "MODBUS_PORTS": "502",
    "FILE_DATA_PORTS": "[$HTTP_PORTS,110,143]",
    "FTP_PORTS": "21",
    "GENEVE_PORTS": "6081",
    "VXLAN_PORTS": "4789",
    "TEREDO_PORTS": "3544",
}


class VariableError(ValueError):
    """An address or port specification that cannot be parsed."""


@dataclass
class RuleVars:
    """Address and port variables used to expand rule headers."""

    addresses: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ADDRESS_VARS))
    ports: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_PORT_VARS))


def _split_list(text: str) -> list[str]:
    """Split ``a,[b,c],d`` at top-level commas."""
    items: list[str] = []
    depth, cur = 0, ""
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise VariableError(f"unbalanced ']' in {text!r}")
        if ch == "," and depth == 0:
            items.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if depth != 0:
        raise VariableError(f"unbalanced '[' in {text!r}")
    items.append(cur.strip())
    return [i for i in items if i]


@dataclass
class AddressSpec:
    """A set of addresses: included networks minus excluded ones (``any`` when both empty)."""

    text: str
    include: list[Network] = field(default_factory=list)
    exclude: list[Network] = field(default_factory=list)
    is_any: bool = False
    _cache: dict[str, bool] = field(default_factory=dict, repr=False, compare=False)

    def matches(self, ip: str) -> bool:
        """Whether ``ip`` is in the set."""
        if self.is_any:
            return True
        hit = self._cache.get(ip)
        if hit is None:
            try:
                addr = ipaddress.ip_address(ip)
            except ValueError:
                return False
            inc = (not self.include) or any(addr in n for n in self.include)
            hit = inc and not any(addr in n for n in self.exclude)
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[ip] = hit
        return hit


def parse_addresses(text: str, v: RuleVars, _depth: int = 0) -> AddressSpec:
    """Parse an address specification (``any``, CIDR, ``$VAR``, ``[..]``, ``!``)."""
    spec = AddressSpec(text=text.strip())
    inc, exc = _addr_terms(text.strip(), v, False, _depth)
    if inc is None:
        spec.is_any = not exc
        spec.exclude = exc
        return spec
    spec.include, spec.exclude = inc, exc
    if not inc and not exc:
        raise VariableError(f"empty address list {text!r}")
    return spec


def _addr_terms(
    text: str, v: RuleVars, neg: bool, depth: int
) -> tuple[list[Network] | None, list[Network]]:
    """Return (included networks, or None for 'any'; excluded networks)."""
    if depth > 16:
        raise VariableError(f"address variables nest too deep at {text!r}")
    text = text.strip()
    if not text:
        raise VariableError("empty address")
    while text.startswith("!"):
        neg = not neg
        text = text[1:].strip()
    if text.startswith("["):
        if not text.endswith("]"):
            raise VariableError(f"unbalanced '[' in {text!r}")
        inc: list[Network] | None = []
        exc: list[Network] = []
        any_seen = False
        for item in _split_list(text[1:-1]):
            i2, e2 = _addr_terms(item, v, neg, depth + 1)
            if i2 is None and not neg:
                any_seen = True
            elif i2 is not None and inc is not None:
                inc.extend(i2)
            exc.extend(e2)
        if any_seen:
            inc = None
        return inc, exc
    if text.startswith("$"):
        name = text[1:]
        if name not in v.addresses:
            raise VariableError(f"unknown address variable ${name}")
        return _addr_terms(v.addresses[name], v, neg, depth + 1)
    if text == "any":
        if neg:
            raise VariableError("'!any' matches nothing")
        return None, []
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise VariableError(f"bad address {text!r}") from None
    return ([], [net]) if neg else ([net], [])


@dataclass
class PortSpec:
    """A set of ports as included and excluded ranges (``any`` when both empty)."""

    text: str
    include: list[tuple[int, int]] = field(default_factory=list)
    exclude: list[tuple[int, int]] = field(default_factory=list)
    is_any: bool = False

    def matches(self, port: int | None) -> bool:
        """Whether ``port`` is in the set (a packet without ports matches only ``any``)."""
        if self.is_any:
            return True
        if port is None:
            return False
        if self.include and not any(lo <= port <= hi for lo, hi in self.include):
            return False
        return not any(lo <= port <= hi for lo, hi in self.exclude)


def parse_ports(text: str, v: RuleVars) -> PortSpec:
    """Parse a port specification (``any``, ``80``, ``1:1024``, ``:1024``, ``$VAR``, ``[..]``)."""
    spec = PortSpec(text=text.strip())
    inc, exc = _port_terms(text.strip(), v, False, 0)
    if inc is None:
        spec.is_any = not exc
        spec.exclude = exc
        return spec
    spec.include, spec.exclude = inc, exc
    return spec


def _port_terms(
    text: str, v: RuleVars, neg: bool, depth: int
) -> tuple[list[tuple[int, int]] | None, list[tuple[int, int]]]:
    if depth > 16:
        raise VariableError(f"port variables nest too deep at {text!r}")
    text = text.strip()
    if not text:
        raise VariableError("empty port")
    while text.startswith("!"):
        neg = not neg
        text = text[1:].strip()
    if text.startswith("["):
        if not text.endswith("]"):
            raise VariableError(f"unbalanced '[' in {text!r}")
        inc: list[tuple[int, int]] | None = []
        exc: list[tuple[int, int]] = []
        any_seen = False
        for item in _split_list(text[1:-1]):
            i2, e2 = _port_terms(item, v, neg, depth + 1)
            if i2 is None and not neg:
                any_seen = True
            elif i2 is not None and inc is not None:
                inc.extend(i2)
            exc.extend(e2)
        return (None if any_seen else inc), exc
    if text.startswith("$"):
        name = text[1:]
        if name not in v.ports:
            raise VariableError(f"unknown port variable ${name}")
        return _port_terms(v.ports[name], v, neg, depth + 1)
    if text == "any":
        if neg:
            raise VariableError("'!any' matches no port")
        return None, []
    try:
        if ":" in text:
            lo_s, hi_s = text.split(":", 1)
            lo = int(lo_s) if lo_s.strip() else 0
            hi = int(hi_s) if hi_s.strip() else 65535
        else:
            lo = hi = int(text)
    except ValueError:
        raise VariableError(f"bad port {text!r}") from None
    if not (0 <= lo <= hi <= 65535):
        raise VariableError(f"port out of range {text!r}")
    return ([], [(lo, hi)]) if neg else ([(lo, hi)], [])
