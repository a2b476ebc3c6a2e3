"""Peak memory of building a collection: ``from_arrays`` and ``from_dataframe`` of n x 384 float32.

Issue 17 ("Memory"): building a collection of 1,000,000 x 384 float32 vectors (1.43 GiB) must
peak at most 1.5x the vectors' size above what the process held before the call (the caller's
own array is not counted: the collection's one copy is 1.0x, normalised in place a block of
rows at a time). On d62a2a1 ``from_arrays`` peaked at 3.1x above the caller's array (4.3 GB of
extra memory for 1M x 384; 6.1 GB of RSS in all).

Each case runs in a fresh subprocess, which makes its vectors, notes its resident memory, builds
the collection and reads its peak resident memory (``VmHWM`` of /proc/self/status, reset just
before the call through /proc/self/clear_refs); the ratio is (peak - before)
/ vectors' size. Exits non-zero when any case is above 1.5x: an assertion, not a timing.

    python benchmarks/bench_memory.py            # 1,000,000 x 384 (needs about 5 GB free)
    python benchmarks/bench_memory.py --small    # 100,000 x 384, for CI
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report  # noqa: E402

LIMIT = 1.5
CASES = ("from_arrays", "from_arrays_dot", "from_dataframe_column", "from_dataframe_wide")

# Run in a fresh interpreter: the peak of this process must be the build's, not an earlier one's.
CHILD = r"""
import json, sys, time
import numpy as np
import pandas as pd
import explorekit as ek

case, n, dim = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(0)
vectors = np.empty((n, dim), np.float32)
for start in range(0, n, 65536):
    vectors[start : start + 65536] = rng.standard_normal((min(65536, n - start), dim), dtype=np.float32)
if case == "from_dataframe_column":
    frame = pd.DataFrame({"embedding": list(vectors)})
    build = lambda: ek.Collection.from_dataframe(frame)
elif case == "from_dataframe_wide":
    frame = pd.DataFrame(vectors, columns=[f"f{i}" for i in range(dim)], copy=False)
    build = lambda: ek.Collection.from_dataframe(frame, vectors=list(frame.columns))
elif case == "from_arrays_dot":
    build = lambda: ek.Collection.from_arrays(vectors, distance="dot")
else:
    build = lambda: ek.Collection.from_arrays(vectors)


def status(key):
    with open("/proc/self/status") as lines:
        return next(int(line.split()[1]) * 1024 for line in lines if line.startswith(key + ":"))


try:  # start the peak here: an earlier one (e.g. making the frame) would hide the build's
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
except OSError:
    pass
before = status("VmRSS")
start = time.perf_counter()
col = build()
seconds = time.perf_counter() - start
peak = max(status("VmHWM"), status("VmRSS"))
print(json.dumps({"before": before, "peak": peak, "nbytes": vectors.nbytes, "seconds": seconds, "points": len(col)}))
"""


def measure(case: str, n: int, dim: int) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, case, str(n), str(dim)], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{case}: the child failed:\n{done.stderr[-2000:]}")
    got = json.loads(done.stdout.strip().splitlines()[-1])
    ratio = (got["peak"] - got["before"]) / got["nbytes"]
    return {
        "case": case,
        "vectors_GB": got["nbytes"] / 1e9,
        "peak_above_before_GB": (got["peak"] - got["before"]) / 1e9,
        "ratio": ratio,
        "limit": LIMIT,
        "ok": "yes" if ratio <= LIMIT else "NO",
        "seconds": got["seconds"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="100,000 x 384 (CI)")
    parser.add_argument("--n", type=int, default=None, help="points (default 1,000,000; 100,000 with --small)")
    args, _ = parser.parse_known_args(argv)
    n = args.n or (100_000 if args.small else 1_000_000)
    dim = 384
    rows = [measure(case, n, dim) for case in CASES]
    report(
        "memory" + ("_small" if args.small else ""),
        rows,
        {"data": f"{n:,} x {dim} float32 random normal", "limit": f"peak - before <= {LIMIT} x vectors"},
    )
    over = [r["case"] for r in rows if r["ratio"] > LIMIT]
    if over:
        print(f"\nabove {LIMIT}x the vectors' size: {over}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
