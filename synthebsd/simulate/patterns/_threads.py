"""CPU worker threads for torch work: one process-wide pool per size, one torch thread each.

Rendering, the Jacobian, dictionary matching, refinement and the training stream all
split their work into cache-sized chunks on worker threads that each run torch on a
single intra-op thread (OpenMP threads stall when the cores are shared).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

__all__ = ["torch_threads", "worker_pool"]

_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def worker_pool(workers: int) -> ThreadPoolExecutor:
    """The process-wide pool of ``workers`` CPU threads (kept: new threads start slowly)."""
    with _POOLS_LOCK:
        if workers not in _POOLS:
            _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="synthebsd-torch")
        return _POOLS[workers]


@contextlib.contextmanager
def torch_threads(n: int | None = 1) -> Iterator[None]:
    """Set torch's intra-op threads for the calling thread only (OpenMP) and restore them
    afterwards; ``None`` leaves them as they are (a GPU device)."""
    import torch  # lazy: torch takes seconds to import

    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)
