"""Split one dataset across simulated sites: IID, Dirichlet non-IID, or by attack family.

Schemes (the ``--partition`` values of ``swarmguard federate simulate``):

``iid``
    Rows shuffled (seeded) and dealt into ``n`` near-equal parts: every site sees the same mix.
``dirichlet:ALPHA``
    For each taxonomy family (``label``) separately, the share of its rows that goes to each site
    is drawn from a symmetric Dirichlet(ALPHA) distribution (Hsu, Qi & Brown, "Measuring the
    effects of non-identical data distribution for federated visual classification", 2019).
    Small ALPHA (0.1) gives sites dominated by one or two families; large ALPHA (100) is close
    to IID. Draws are repeated (seeded) until every site has at least ``min_rows`` rows.
``by-class``
    Attack families are dealt round-robin to the sites (a site sees only its own families, as a
    web farm sees web attacks and a mail relay sees brute force); benign rows are split evenly,
    so every site has both classes. With more sites than families, families are shared by the
    sites they are dealt to.

Examples
--------
>>> import pyarrow as pa
>>> from swarmguard.records.dataset import LabeledTable
>>> labels = ["benign"] * 6 + ["dos"] * 3 + ["probe"] * 3
>>> t = pa.table({"uid": [str(i) for i in range(12)], "x": [0.0] * 12, "label": labels,
...               "label_original": labels})
>>> rows = LabeledTable(t, "demo", ("x",), ())
>>> [p.num_rows for p in partition_rows(rows, 3, "iid", seed=0)]
[4, 4, 4]
>>> parts = partition_rows(rows, 2, "by-class", seed=0)
>>> [sorted(set(p.labels())) for p in parts]
[['benign', 'dos'], ['benign', 'probe']]
>>> parse_partition("dirichlet:0.5")
('dirichlet', 0.5)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from swarmguard.records.dataset import LabeledTable

__all__ = ["PARTITION_HELP", "parse_partition", "partition_indices", "partition_rows"]

PARTITION_HELP = "iid, dirichlet:ALPHA (e.g. dirichlet:0.3; smaller is less IID) or by-class"

IntArray = npt.NDArray[np.int64]


def parse_partition(spec: str) -> tuple[str, float]:
    """Parse a partition scheme into ``(kind, alpha)``; alpha is 0.0 unless Dirichlet.

    Raises
    ------
    ValueError
        For an unknown scheme or a non-positive alpha.
    """
    text = spec.strip().lower()
    if text in ("iid", "by-class"):
        return text, 0.0
    if text.startswith("dirichlet:"):
        try:
            alpha = float(text.split(":", 1)[1])
        except ValueError:
            raise ValueError(f"bad partition {spec!r}: ALPHA must be a number") from None
        if not alpha > 0 or not np.isfinite(alpha):
            raise ValueError(f"bad partition {spec!r}: ALPHA must be positive")
        return "dirichlet", alpha
    raise ValueError(f"unknown partition {spec!r}: use {PARTITION_HELP}")


def _dirichlet(
    labels: npt.NDArray[np.str_], n: int, alpha: float, rng: np.random.Generator
) -> list[list[int]]:
    parts: list[list[int]] = [[] for _ in range(n)]
    for label in sorted(set(labels.tolist())):
        idx = np.flatnonzero(labels == label)
        rng.shuffle(idx)
        shares = rng.dirichlet(np.full(n, alpha))
        cuts = (np.cumsum(shares)[:-1] * len(idx)).astype(np.int64)
        for site, chunk in enumerate(np.split(idx, cuts)):
            parts[site].extend(int(i) for i in chunk)
    return parts


def _by_class(labels: npt.NDArray[np.str_], n: int, rng: np.random.Generator) -> list[list[int]]:
    parts: list[list[int]] = [[] for _ in range(n)]
    benign = np.flatnonzero(labels == "benign")
    rng.shuffle(benign)
    for site, chunk in enumerate(np.array_split(benign, n)):
        parts[site].extend(int(i) for i in chunk)
    families = sorted(set(labels.tolist()) - {"benign"})
    if not families:
        return parts
    owners: dict[str, list[int]] = {f: [] for f in families}
    for k in range(max(n, len(families))):
        owners[families[k % len(families)]].append(k % n)
    for family, sites in owners.items():
        idx = np.flatnonzero(labels == family)
        rng.shuffle(idx)
        for site, chunk in zip(sites, np.array_split(idx, len(sites)), strict=True):
            parts[site].extend(int(i) for i in chunk)
    return parts


def partition_indices(
    labels: list[str | None], n: int, scheme: str, *, seed: int = 0, min_rows: int = 2
) -> list[IntArray]:
    """Row indices of each of ``n`` sites (sorted), following ``scheme``.

    Raises
    ------
    ValueError
        For ``n < 1``, fewer rows than sites, or a scheme that leaves a site with fewer than
        ``min_rows`` rows.
    """
    kind, alpha = parse_partition(scheme)
    if n < 1:
        raise ValueError("the number of clients must be at least 1")
    if len(labels) < n * min_rows:
        raise ValueError(f"{len(labels)} rows are too few for {n} clients")
    arr = np.asarray(["" if lab is None else lab for lab in labels], dtype=str)
    rng = np.random.default_rng(seed)
    if kind == "iid":
        order = rng.permutation(len(arr))
        parts = [chunk.tolist() for chunk in np.array_split(order, n)]
    elif kind == "by-class":
        parts = _by_class(arr, n, rng)
    else:
        for _attempt in range(100):
            parts = _dirichlet(arr, n, alpha, rng)
            if min(len(p) for p in parts) >= min_rows:
                break
        else:
            raise ValueError(
                f"dirichlet:{alpha} left a client with fewer than {min_rows} rows in 100 draws; "
                "use fewer clients or a larger ALPHA"
            )
    if min(len(p) for p in parts) < min_rows:
        raise ValueError(f"partition {scheme} leaves a client with fewer than {min_rows} rows")
    return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]


def partition_rows(
    rows: LabeledTable, n: int, scheme: str, *, seed: int = 0, min_rows: int = 2
) -> list[LabeledTable]:
    """Split ``rows`` into ``n`` site tables following ``scheme`` (see the module docstring)."""
    return [
        rows.take(idx)
        for idx in partition_indices(rows.labels(), n, scheme, seed=seed, min_rows=min_rows)
    ]
