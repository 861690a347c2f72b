r"""Each public dataset's own labels mapped onto ``AttackClass``.

The tables are the documentation: ``docs/datasets.md`` repeats them with the reasons. Lookups
are case-insensitive and ignore surrounding spaces, a trailing ``.`` (KDD'99 writes
``normal.``) and the kind of dash (CIC-IDS2017 writes an en dash in ``Web Attack – XSS``). A
label that is not in a table maps to ``unknown_attack`` with a warning: new attack names in an
evaluation set must not crash a run.

Examples
--------
>>> map_label("nsl-kdd", "neptune")
<AttackClass.DOS: 'dos'>
>>> map_label("cic-ids2017", "Web Attack \u2013 Brute Force")
<AttackClass.WEB_ATTACK: 'web_attack'>
>>> map_label("cic-ids2017", "DoS Hulk - Attempted")
<AttackClass.BENIGN: 'benign'>
>>> map_label("unsw-nb15", " Backdoors ")
<AttackClass.BACKDOOR: 'backdoor'>
"""

from __future__ import annotations

import logging
import re
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc

from swarmguard.records.labels import AttackClass

__all__ = [
    "CIC_IDS2017_LABELS",
    "NSL_KDD_CATEGORY",
    "NSL_KDD_LABELS",
    "UNSW_NB15_LABELS",
    "label_columns",
    "map_label",
    "normalise_label",
]

_log = logging.getLogger(__name__)

A = AttackClass

#: NSL-KDD / KDD'99 attack names by the four classic categories (Tavallaee et al. 2009,
#: DARPA 1998/1999 attack lists), including the names that occur only in KDDTest+.
NSL_KDD_CATEGORY: dict[str, str] = {
    **dict.fromkeys(
        [
            "back", "land", "neptune", "pod", "smurf", "teardrop",
            "apache2", "mailbomb", "processtable", "udpstorm",
        ],
        "dos",
    ),
    **dict.fromkeys(["ipsweep", "nmap", "portsweep", "satan", "mscan", "saint"], "probe"),
    **dict.fromkeys(
        [
            "ftp_write", "guess_passwd", "imap", "multihop", "phf", "spy", "warezclient",
            "warezmaster", "xlock", "xsnoop", "snmpguess", "snmpgetattack", "httptunnel",
            "sendmail", "named", "worm",
        ],
        "r2l",
    ),
    **dict.fromkeys(
        ["buffer_overflow", "loadmodule", "perl", "rootkit", "ps", "sqlattack", "xterm"], "u2r"
    ),
}  # fmt: skip

_KDD_CATEGORY_CLASS = {
    "dos": A.DOS,
    "probe": A.PROBE,
    "r2l": A.REMOTE_ACCESS,
    "u2r": A.PRIVILEGE_ESCALATION,
}

#: NSL-KDD label -> class: the category's class, except password guessing (brute_force, as
#: CIC-IDS2017's FTP/SSH-Patator) and the worm (malware, as UNSW-NB15's Worms).
NSL_KDD_LABELS: dict[str, AttackClass] = {
    "normal": A.BENIGN,
    **{name: _KDD_CATEGORY_CLASS[cat] for name, cat in NSL_KDD_CATEGORY.items()},
    "guess_passwd": A.BRUTE_FORCE,
    "snmpguess": A.BRUTE_FORCE,
    "worm": A.MALWARE,
}

#: UNSW-NB15 ``attack_cat`` -> class (Moustafa & Slay 2015, table of attack types).
UNSW_NB15_LABELS: dict[str, AttackClass] = {
    "normal": A.BENIGN,
    "exploits": A.EXPLOIT,
    "fuzzers": A.FUZZING,
    "dos": A.DOS,
    "reconnaissance": A.PROBE,
    "analysis": A.PROBE,  # port scans, spam and HTML file penetration attempts
    "backdoor": A.BACKDOOR,
    "backdoors": A.BACKDOOR,  # the raw UNSW-NB15_1..4 files say "Backdoors"
    "shellcode": A.EXPLOIT,  # the payload of an exploit
    "worms": A.MALWARE,  # self-replicating code
    "generic": A.EXPLOIT,  # attacks on block-cipher implementations, cipher-agnostic
}

#: CIC-IDS2017 labels of both the original CICFlowMeter files and the improved re-extraction
#: (Engelen et al. 2021). "... - Attempted" rows are benign: the attack did not get through.
CIC_IDS2017_LABELS: dict[str, AttackClass] = {
    "benign": A.BENIGN,
    "ddos": A.DOS,
    "dos hulk": A.DOS,
    "dos goldeneye": A.DOS,
    "dos slowloris": A.DOS,
    "dos slowhttptest": A.DOS,
    "portscan": A.PROBE,
    "infiltration - portscan": A.PROBE,  # a scan from the infiltrated host: scan behaviour
    "ftp-patator": A.BRUTE_FORCE,
    "ssh-patator": A.BRUTE_FORCE,
    "bot": A.BOTNET,
    "botnet": A.BOTNET,
    "web attack - brute force": A.WEB_ATTACK,
    "web attack - xss": A.WEB_ATTACK,
    "web attack - sql injection": A.WEB_ATTACK,
    "infiltration": A.INFILTRATION,
    "heartbleed": A.EXPLOIT,
}

_TABLES: dict[str, dict[str, AttackClass]] = {
    "nsl-kdd": NSL_KDD_LABELS,
    "unsw-nb15": UNSW_NB15_LABELS,
    "cic-ids2017": CIC_IDS2017_LABELS,
}

_DASHES = re.compile(r"\s*[\u2010-\u2015\u2212]\s*|\s+-\s+")
_ATTEMPTED = re.compile(r"\s*-\s*attempted$")


def normalise_label(fmt: str, label: str) -> str:
    r"""Return the lookup key for a label: lower case, one kind of dash, single spaces.

    Examples
    --------
    >>> normalise_label("cic-ids2017", "  Web Attack \u2013 XSS ")
    'web attack - xss'
    >>> normalise_label("nsl-kdd", "smurf.")
    'smurf'
    """
    key = " ".join(label.strip().lower().split())
    if fmt == "nsl-kdd":
        return key.rstrip(".")
    if fmt == "cic-ids2017":
        key = _DASHES.sub(" - ", key)
    return key


def map_label(fmt: str, label: str) -> AttackClass | None:
    """Return the class of one dataset label, or None when the label is not in the table.

    Raises
    ------
    ValueError
        If ``fmt`` is not a dataset format.
    """
    try:
        table = _TABLES[fmt]
    except KeyError:
        raise ValueError(f"no label table for format {fmt!r}") from None
    key = normalise_label(fmt, label)
    if fmt == "cic-ids2017" and _ATTEMPTED.search(key):
        return A.BENIGN
    return table.get(key)


def label_columns(fmt: str, source: str, original: pa.Array | pa.ChunkedArray) -> pa.Table:
    """Build ``label`` and ``label_original`` from the dataset's own label column.

    Distinct values are mapped once; unknown names become ``unknown_attack`` and are logged as a
    warning with their counts. Empty originals become null in both columns.

    Examples
    --------
    >>> t = label_columns("nsl-kdd", "x.txt", pa.array(["normal", "smurf", "normal"]))
    >>> t.column("label").to_pylist()
    ['benign', 'dos', 'benign']
    """
    original = pc.if_else(pc.equal(original, ""), pa.scalar(None, pa.string()), original)
    if isinstance(original, pa.ChunkedArray):
        original = original.combine_chunks()
    encoded = pc.dictionary_encode(original)
    mapped: list[str | None] = []
    unknown: Counter[str] = Counter()
    counts = pc.value_counts(original)
    per_value = {
        v.as_py(): c.as_py()
        for v, c in zip(counts.field("values"), counts.field("counts"), strict=True)
    }
    for value in encoded.dictionary.to_pylist():
        cls = map_label(fmt, value)
        if cls is None:
            cls = A.UNKNOWN_ATTACK
            unknown[value] = per_value.get(value, 0)
        mapped.append(cls.value)
    if unknown:
        _log.warning(
            "%s: %d row(s) with label(s) not in the %s table, mapped to unknown_attack: %s",
            source,
            sum(unknown.values()),
            fmt,
            ", ".join(f"{k!r} ({n})" for k, n in sorted(unknown.items())),
        )
    labels = pc.take(pa.array(mapped, pa.string()), encoded.indices)
    return pa.table({"label": labels, "label_original": original.cast(pa.string())})
