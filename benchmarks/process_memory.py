"""Resident memory of a process and of its whole tree (children, e.g. an ingest's worker), from /proc.

``PeakMemory(pid)`` samples in a thread while a block runs: ``peak`` is the largest sum over the tree
seen, ``per_process`` the largest resident size each process reached. The sum is of proportional
set sizes (PSS: a page shared by n processes counts 1/n in each), so that a forked worker's pages
shared with its parent count once, as they take memory once; a sum of resident sizes would count
them twice. Linux only (benchmarks run there).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """``field`` of /proc/PID/status (VmRSS, RssAnon, RssFile, VmHWM) in MiB; 0 once the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0.0
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def pss_mib(pid: int) -> float:
    """The proportional set size of ``pid`` (/proc/PID/smaps_rollup) in MiB; 0 once the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return 0.0
    for line in lines:
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def process_tree(pid: int) -> list[int]:
    """``pid`` and every descendant still running."""
    found = [pid]
    try:
        threads = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for thread in threads:
        try:
            children = (thread / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found += process_tree(int(child))
    return found


class PeakMemory:
    """Samples the memory of ``pid``'s process tree every ``interval`` s while the block runs."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid, self.interval = pid, interval
        self.peak = 0.0
        self.per_process: dict[int, float] = {}
        self._stop = threading.Event()

    def sample(self) -> None:
        tree = process_tree(self.pid)
        for pid in tree:
            self.per_process[pid] = max(self.per_process.get(pid, 0.0), rss_mib(pid))
        self.peak = max(self.peak, sum(pss_mib(pid) for pid in tree))

    def __enter__(self) -> PeakMemory:
        def run() -> None:
            while not self._stop.is_set():
                self.sample()
                time.sleep(self.interval)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
