"""Run every benchmark in one process-per-benchmark sweep and print their tables.

python benchmarks/run.py           # full sizes (100,000 x 384 and the large real set)
python benchmarks/run.py --small   # small sizes: keeps the benchmarks working in CI
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    extra = sys.argv[1:]
    scripts = sorted(p for p in HERE.glob("bench_*.py"))
    failed = []
    for script in scripts:
        print(f"\n### {script.name} {' '.join(extra)}", flush=True)
        code = subprocess.call([sys.executable, str(script), *extra])
        if code:
            failed.append(script.name)
    if failed:
        print(f"\nbenchmarks failed: {failed}")
        return 1
    print(f"\n{len(scripts)} benchmarks ran")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
