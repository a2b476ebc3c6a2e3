"""Save and load at scale (issue 11): 1,000,000 x 384 vectors saved, then loaded memory-mapped
in a fresh process (checksums verified) and answering an exact search.

    python benchmarks/bench_persistence.py            # 1,000,000 x 384 (about 1.5 GB on disk)
    python benchmarks/bench_persistence.py --small    # 20,000 x 64
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report  # noqa: E402

import explorekit as ek  # noqa: E402

_CHILD = """
import json, sys, time
t0 = time.perf_counter()
import explorekit as ek
t1 = time.perf_counter()
col = ek.Collection.load(sys.argv[1], mmap=True, verify=sys.argv[2] == "1")
t2 = time.perf_counter()
hits = col.search(col.vectors()[0], limit=10, params={"exact": True}, with_payload=False)
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "first_search_s": t3 - t2,
                  "points": len(col), "top": int(hits["id"][0])}))
"""


def main() -> int:
    small = "--small" in sys.argv[1:]
    n, dim = (20_000, 64) if small else (1_000_000, 384)
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, dim), dtype=np.float32)
    payload = [{"group": int(i % 100)} for i in range(n)] if small else None
    col = ek.Collection.from_arrays(vectors, payload=payload, distance="dot")
    del vectors
    folder = Path(tempfile.mkdtemp(prefix="bench-save-"))
    try:
        start = time.perf_counter()
        col.save(folder / "c")
        save_s = time.perf_counter() - start
        size = sum(p.stat().st_size for p in (folder / "c").rglob("*") if p.is_file())
        rows = []
        for verify in ("1", "0"):
            out = subprocess.run(
                [sys.executable, "-c", _CHILD, str(folder / "c"), verify], capture_output=True, text=True, check=True
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            assert result["top"] == 0 and result["points"] == n
            rows.append(
                {
                    "verify_checksums": verify == "1",
                    "load_s": result["load_s"],
                    "first_exact_search_s": result["first_search_s"],
                    "load_plus_search_s": result["load_s"] + result["first_search_s"],
                    "save_s": save_s,
                    "bytes_on_disk": size,
                }
            )
        report(
            "persistence" + ("_small" if small else ""),
            rows,
            {"data": f"{n:,} x {dim} random float32 (dot), saved then loaded memory-mapped in a fresh process"},
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
