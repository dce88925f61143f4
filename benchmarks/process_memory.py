"""Resident memory of a process and of its whole tree (children, e.g. an ingest's worker), from /proc.

``PeakMemory(pid)`` samples in a thread while a block runs: ``peak`` is the largest sum over the tree
seen, ``per_process`` the largest each process reached. Linux only (benchmarks run there).
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
    """Samples the RSS of ``pid``'s process tree every ``interval`` s while the block runs."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid, self.interval = pid, interval
        self.peak = 0.0
        self.per_process: dict[int, float] = {}
        self._stop = threading.Event()

    def sample(self) -> None:
        sizes = {pid: rss_mib(pid) for pid in process_tree(self.pid)}
        for pid, size in sizes.items():
            self.per_process[pid] = max(self.per_process.get(pid, 0.0), size)
        self.peak = max(self.peak, sum(sizes.values()))

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
