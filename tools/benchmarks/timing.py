"""Timing for the benchmarks: the median of repeated runs after a warm-up."""
import statistics
import time
from typing import Callable


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def interleaved_median_ms(fns: list[Callable[[], object]], repeats: int, warmup: int = 2) -> list[float]:
    """Medians of several functions timed in turn (a, b, c, a, b, c, ...), so that drift in the machine's speed
    (other load, frequency) falls on all of them alike."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, spent in zip(fns, times):
            start = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) * 1000 for spent in times]
