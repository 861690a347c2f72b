"""Ingest speed of ``read_pcap`` on the StopDDoS SYN-flood capture: packets/s, flows/s, peak memory.

Run: ``.venv/bin/python benchmarks/bench_ingest.py`` (also part of ``make bench``).
"""

from __future__ import annotations

import resource
import time
import tracemalloc

from _paths import synflood_pcap
from swarmguard.acquire.pcap import read_pcap


def main() -> None:
    path = synflood_pcap()
    read_pcap(path)  # warm up imports and page cache
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    best = float("inf")
    table = None
    for _ in range(3):
        t0 = time.perf_counter()
        table = read_pcap(path)
        best = min(best, time.perf_counter() - t0)
    assert table is not None
    packets = sum(table["pkts_toserver"].to_pylist()) + sum(table["pkts_toclient"].to_pylist())
    tracemalloc.start()
    read_pcap(path)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"# read_pcap {path.name} ({path.stat().st_size / 1e6:.1f} MB), best of 3")
    print(f"packets/s          {packets / best:>12,.0f}  ({packets} packets in {best:.3f} s)")
    print(f"flows/s            {table.num_rows / best:>12,.0f}  ({table.num_rows} flows)")
    print(f"peak python alloc  {traced_peak / 2**20:>12.1f} MiB (tracemalloc, numpy and Arrow)")
    print(
        f"peak RSS           {rss / 1024:>12.1f} MiB (high-water; {rss_before / 1024:.0f} before)"
    )


if __name__ == "__main__":
    main()
