"""Peak resident memory of a run, sampled in a background thread (benchmarks, studies)."""

from __future__ import annotations

import threading

__all__ = ["PeakMemory"]


class PeakMemory:
    """Peak resident memory (GiB) while the ``with`` block runs.

    Sampled every ``interval_s`` by a background thread with psutil. By default the RSS
    of this process (process-wide, so concurrent tasks in the same process are
    included); with ``pid``, the summed RSS of that process and all its descendants
    (e.g. a command and its dask workers).

    Attributes
    ----------
    start_gib
        RSS when the block was entered, GiB.
    peak_gib
        Largest RSS sampled in the block (entry and exit included), GiB.
    """

    def __init__(self, pid: int | None = None, interval_s: float = 0.05) -> None:
        import psutil

        self._process = psutil.Process(pid)
        self._tree = pid is not None
        self._interval = interval_s
        self._stop = threading.Event()
        self.start_gib = 0.0
        self.peak_gib = 0.0

    def _rss_gib(self) -> float:
        import psutil

        procs = [self._process]
        if self._tree:
            try:
                procs += self._process.children(recursive=True)
            except psutil.Error:  # the process itself has exited
                return 0.0
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:  # a worker that just exited
                pass
        return total / 2**30

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_gib = max(self.peak_gib, self._rss_gib())
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakMemory:
        self.start_gib = self.peak_gib = self._rss_gib()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_gib = max(self.peak_gib, self._rss_gib())
