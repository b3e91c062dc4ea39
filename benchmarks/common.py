"""Helpers shared by the benchmark scripts: paths, threads, timing."""
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402

torch.set_num_threads(int(os.environ.get("BLRP_THREADS", min(2, os.cpu_count() or 1))))


def timed(fn, repeats=3):
    """Median wall-clock seconds of `fn()` over `repeats` runs (after one warm-up run), and its last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2], result


def header(title):
    print(f"\n== {title} (torch {torch.__version__}, {torch.get_num_threads()} threads) ==")
