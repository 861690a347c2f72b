"""Which events a rule's ``logsource`` covers: the keys that index the compiled rules.

A rule gets one index key from its logsource; an event gets every key it can satisfy, so the
engine evaluates only the rules under the event's keys (one dictionary lookup per key instead of
one pass per rule). Keys are ``(product, "category", name)``, ``(product, "service", name)`` or
``(product, "any")`` for a rule naming only its product.

Windows (``product: windows``)
    *category* from the channel and event id: Sysmon ids (1 process_creation, 3
    network_connection, 7 image_load, 11 file_event, 12-14 registry_*, 22 dns_query, ...),
    Security 4688 process_creation, PowerShell 4103 ps_module / 4104 ps_script, classic
    PowerShell 400/600/800. *service* from the channel (``SERVICE_CHANNELS``).
Linux (``product: linux``), from syslog lines
    services ``syslog`` (every line), ``auth`` (authentication programs), and the program
    name itself (``sshd``, ``sudo``, ``cron``, ``vsftpd``, ...).
Web access logs
    category ``webserver`` (no product), services ``apache`` and ``nginx``.
JSON lines
    the object's own ``product`` / ``category`` / ``service`` keys, when it has them.

Examples
--------
>>> rule_key("windows", "process_creation", None)
('windows', 'category', 'process_creation')
>>> sorted(windows_keys("Microsoft-Windows-Sysmon/Operational", 1))[:2]
[('windows', 'any'), ('windows', 'category', 'process_creation')]
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "SERVICE_CHANNELS",
    "SYSMON_CATEGORIES",
    "IndexKey",
    "linux_keys",
    "rule_key",
    "web_keys",
    "windows_keys",
]

IndexKey = tuple[str, ...]

_SYSMON = "microsoft-windows-sysmon/operational"
#: Sysmon event id -> Sigma categories.
SYSMON_CATEGORIES: dict[int, tuple[str, ...]] = {
    1: ("process_creation",),
    2: ("file_change",),
    3: ("network_connection",),
    4: ("sysmon_status",),
    5: ("process_termination",),
    6: ("driver_load",),
    7: ("image_load",),
    8: ("create_remote_thread",),
    9: ("raw_access_thread",),
    10: ("process_access",),
    11: ("file_event",),
    12: ("registry_add", "registry_delete", "registry_event"),
    13: ("registry_set", "registry_event"),
    14: ("registry_rename", "registry_event"),
    15: ("create_stream_hash",),
    16: ("sysmon_status",),
    17: ("pipe_created",),
    18: ("pipe_created",),
    19: ("wmi_event",),
    20: ("wmi_event",),
    21: ("wmi_event",),
    22: ("dns_query",),
    23: ("file_delete",),
    24: ("clipboard_change",),
    25: ("process_tampering",),
    26: ("file_delete", "file_delete_detected"),
    27: ("file_block_executable",),
    28: ("file_block_shredding",),
    29: ("file_executable_detected",),
    255: ("sysmon_error",),
}
#: (channel, event id) -> Sigma categories outside Sysmon.
_OTHER_CATEGORIES: dict[tuple[str, int], tuple[str, ...]] = {
    ("security", 4688): ("process_creation",),
    ("microsoft-windows-powershell/operational", 4103): ("ps_module",),
    ("microsoft-windows-powershell/operational", 4104): ("ps_script",),
    ("powershellcore/operational", 4103): ("ps_module",),
    ("powershellcore/operational", 4104): ("ps_script",),
    ("windows powershell", 400): ("ps_classic_start",),
    ("windows powershell", 600): ("ps_classic_provider_start",),
    ("windows powershell", 800): ("ps_classic_script",),
}
#: Sigma Windows service -> event log channels (the SigmaHQ logsource guide).
SERVICE_CHANNELS: dict[str, tuple[str, ...]] = {
    "security": ("Security",),
    "system": ("System",),
    "application": ("Application",),
    "sysmon": ("Microsoft-Windows-Sysmon/Operational",),
    "powershell": ("Microsoft-Windows-PowerShell/Operational", "PowerShellCore/Operational"),
    "powershell-classic": ("Windows PowerShell",),
    "taskscheduler": ("Microsoft-Windows-TaskScheduler/Operational",),
    "wmi": ("Microsoft-Windows-WMI-Activity/Operational",),
    "dns-server": ("DNS Server",),
    "dns-server-analytic": ("Microsoft-Windows-DNS-Server/Analytical",),
    "dns-client": ("Microsoft-Windows-DNS Client Events/Operational",),
    "driver-framework": ("Microsoft-Windows-DriverFrameworks-UserMode/Operational",),
    "ntlm": ("Microsoft-Windows-NTLM/Operational",),
    "windefend": ("Microsoft-Windows-Windows Defender/Operational",),
    "applocker": (
        "Microsoft-Windows-AppLocker/MSI and Script",
        "Microsoft-Windows-AppLocker/EXE and DLL",
        "Microsoft-Windows-AppLocker/Packaged app-Deployment",
        "Microsoft-Windows-AppLocker/Packaged app-Execution",
    ),
    "msexchange-management": ("MSExchange Management",),
    "printservice-admin": ("Microsoft-Windows-PrintService/Admin",),
    "printservice-operational": ("Microsoft-Windows-PrintService/Operational",),
    "smbclient-security": ("Microsoft-Windows-SmbClient/Security",),
    "smbclient-connectivity": ("Microsoft-Windows-SmbClient/Connectivity",),
    "smbserver-connectivity": ("Microsoft-Windows-SMBServer/Connectivity",),
    "firewall-as": ("Microsoft-Windows-Windows Firewall With Advanced Security/Firewall",),
    "bits-client": ("Microsoft-Windows-Bits-Client/Operational",),
    "codeintegrity-operational": ("Microsoft-Windows-CodeIntegrity/Operational",),
    "security-mitigations": (
        "Microsoft-Windows-Security-Mitigations/Kernel Mode",
        "Microsoft-Windows-Security-Mitigations/User Mode",
    ),
    "diagnosis-scripted": ("Microsoft-Windows-Diagnosis-Scripted/Operational",),
    "shell-core": ("Microsoft-Windows-Shell-Core/Operational",),
    "openssh": ("OpenSSH/Operational",),
    "ldap": ("Microsoft-Windows-LDAP-Client/Debug",),
    "lsa-server": ("Microsoft-Windows-LSA/Operational",),
    "appxdeployment-server": ("Microsoft-Windows-AppXDeploymentServer/Operational",),
    "appxpackaging-om": ("Microsoft-Windows-AppxPackagingOM/Operational",),
    "appmodel-runtime": ("Microsoft-Windows-AppModel-Runtime/Admin",),
    "capi2": ("Microsoft-Windows-CAPI2/Operational",),
    "certificateservicesclient-lifecycle-system": (
        "Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational",
    ),
    "iis-configuration": ("Microsoft-IIS-Configuration/Operational",),
    "microsoft-servicebus-client": ("Microsoft-ServiceBus-Client",),
    "terminalservices-localsessionmanager": (
        "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
    ),
    "vhdmp": ("Microsoft-Windows-VHDMP/Operational",),
}
_CHANNEL_SERVICES: dict[str, tuple[str, ...]] = {}
for _service, _channels in SERVICE_CHANNELS.items():
    for _channel in _channels:
        key = _channel.lower()
        _CHANNEL_SERVICES[key] = (*_CHANNEL_SERVICES.get(key, ()), _service)

_AUTH_PROGRAMS = frozenset(
    {
        "sshd",
        "sudo",
        "su",
        "login",
        "passwd",
        "useradd",
        "userdel",
        "groupadd",
        "systemd-logind",
        "gdm",
        "lightdm",
        "ftpd",
        "vsftpd",
        "klogind",
        "pam",
    }
)


def rule_key(product: str | None, category: str | None, service: str | None) -> IndexKey:
    """The index key of a rule's logsource (category before service, then product only)."""
    prod = (product or "*").lower()
    if category:
        return (prod, "category", category.lower())
    if service:
        return (prod, "service", service.lower())
    return (prod, "any")


def windows_keys(channel: str | None, event_id: int | None) -> set[IndexKey]:
    """Every index key a Windows event satisfies."""
    keys: set[IndexKey] = {("windows", "any")}
    chan = (channel or "").lower()
    for service in _CHANNEL_SERVICES.get(chan, ()):
        keys.add(("windows", "service", service))
    if event_id is not None:
        cats: Iterable[str] = ()
        if chan == _SYSMON:
            cats = SYSMON_CATEGORIES.get(event_id, ())
        else:
            cats = _OTHER_CATEGORIES.get((chan, event_id), ())
        keys.update(("windows", "category", c) for c in cats)
    return keys


def linux_keys(program: str | None, is_auth: bool) -> set[IndexKey]:
    """Every index key a syslog line satisfies."""
    keys: set[IndexKey] = {("linux", "any"), ("linux", "service", "syslog")}
    prog = (program or "").lower().split("(")[0].split("[")[0].strip()
    if prog:
        keys.add(("linux", "service", prog))
        if prog in ("cron", "crond", "anacron"):
            keys.add(("linux", "service", "cron"))
    if is_auth or prog in _AUTH_PROGRAMS:
        keys.add(("linux", "service", "auth"))
    return keys


def web_keys() -> set[IndexKey]:
    """Every index key an access-log line satisfies."""
    return {
        ("*", "category", "webserver"),
        ("*", "service", "apache"),
        ("*", "service", "nginx"),
        ("*", "any"),
    }
