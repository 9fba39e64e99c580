"""What every table's generator starts from: the state's (day, scale, profile), its keys, and threads."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from airflow_source_simulator.data.calendar import state_end
from airflow_source_simulator.data.columns import Columns
from airflow_source_simulator.data.hashing import I64
from airflow_source_simulator.data.scenario import CLASSIC, Profile, max_id

PARALLEL_FROM = 100_000  # keys; below this, threads cost more than they save
_WORKERS = max(1, min(os.cpu_count() or 1, 4))
_POOL_THREADS = "source-simulator-generate"


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(_WORKERS, thread_name_prefix=_POOL_THREADS)


def _in_pool() -> bool:
    """Whether this thread is one of the pool's: a slice that needs another table computed first (order items
    need their orders) computes it on its own thread, as a pool waiting for itself would wait forever."""
    return threading.current_thread().name.startswith(_POOL_THREADS)


@dataclass
class GeneratorBase:
    """The state of one (scale, day, profile). ``keys=(lo, hi)`` restricts every table to the keys
    ``lo <= key < hi``: each row is a function of its key, so disjoint key ranges can be generated
    apart (by Spark tasks) and put together."""

    day: int
    scale: int = 1
    profile: Profile | str = CLASSIC
    keys: tuple[int, int] | None = None
    end: int = field(init=False)

    def __post_init__(self) -> None:
        self.end = state_end(self.day)

    def _in_parallel(self, generate: Callable[[I64], Columns], keys: I64) -> Columns:
        """``generate(keys)``, in slices on every core for a whole large state (NumPy releases the GIL);
        a key range (a Spark task) stays on one thread, as its executor runs other tasks beside it."""
        if self.keys is not None or keys.size < PARALLEL_FROM or _WORKERS == 1 or _in_pool():
            return generate(keys)
        parts = list(_pool().map(generate, np.array_split(keys, _WORKERS)))
        # Joined on every core too: in a fresh process the joined columns are new memory, and the kernel's
        # first touch of each page costs about as much as the copy itself.
        names = list(parts[0])
        joined = _pool().map(lambda name: np.concatenate([part[name] for part in parts]), names)
        return dict(zip(names, joined, strict=True))

    def ids(self, table: str) -> I64:
        """The keys of ``table`` this generator produces (generated tables hold IDs 1..max_id)."""
        lo, hi = 1, max_id(table, self.day, self.scale) + 1
        if self.keys is not None:
            lo, hi = max(lo, self.keys[0]), min(hi, self.keys[1])
        return np.arange(lo, max(lo, hi), dtype=np.int64)
