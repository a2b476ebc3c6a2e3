"""Crasher soak (issue 15): SIGKILL a child that changes and saves collections, again and again.

A child (forked from a warm zygote) runs random upserts, deletes, quantize, build_index and
saves on collections of every configuration in ``tests/crasher.py`` (each distance, named
vectors, int / string / UUID / mixed ids, quantized, indexed, mixed payload); the parent kills
it at a random moment, loads the folder with ``verify=True`` and checks that it holds exactly
the state saved last or the one whose save was in flight. Prints kill points, where they
landed, mismatches, load failures and the states seen; exits 1 on any failure.

    python benchmarks/soak.py --minutes 10            # make soak
    python benchmarks/soak.py --rounds 300 --seed 7   # a fixed number of kill points
    python benchmarks/soak.py --rounds 5 --mutant reverse_vectors   # must report mismatches, exit 1
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from _common import report  # noqa: E402
from crasher import CONFIGS, MUTANTS, Tally, soak  # noqa: E402


def _progress(every: float):
    """A ``report=`` callback printing one line every ``every`` seconds."""
    start = last = time.monotonic()

    def show(tally: Tally) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= every:
            last = now
            s = tally.summary()
            print(
                f"  {now - start:6.0f} s  kill points {s['kill_points']:5d}  saves {s['saves_completed']:5d}  "
                f"in a save {s['kills_during_save']:5d}  mismatches {s['mismatches']}  "
                f"load failures {s['load_failures']}  child errors {s['child_errors']}",
                flush=True,
            )

    return show


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    limit = parser.add_mutually_exclusive_group()
    limit.add_argument("--minutes", type=float, help="run this long (default 10)")
    limit.add_argument("--rounds", type=int, help="run this many kill points")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), help="default: all")
    parser.add_argument(
        "--mutant",
        choices=sorted(MUTANTS),
        help="damage every save; each child then completes one save before its kill, so the run fails",
    )
    parser.add_argument(
        "--user-file-inside",
        action="store_true",
        help="also plant a user's file inside each collection folder and check saves keep it",
    )
    parser.add_argument("--folder", type=Path, help="work here (default: a temporary folder, removed after)")
    args = parser.parse_args(argv)
    minutes = args.minutes if args.rounds is None else None
    if minutes is None and args.rounds is None:
        minutes = 10.0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="explorekit-soak-") as tmp:
        base = args.folder or Path(tmp)
        print(
            f"soak: {f'{minutes:g} minutes' if minutes else f'{args.rounds} kill points'}, seed {args.seed}, "
            f"configs {args.configs or sorted(CONFIGS)}, in {base}",
            flush=True,
        )
        tally = soak(
            base,
            rounds=args.rounds,
            minutes=minutes,
            seed=args.seed,
            configs=args.configs,
            mutant=args.mutant,
            min_saves=1 if args.mutant else 0,
            user_file_inside=args.user_file_inside,
            report=_progress(30.0),
        )
    summary = tally.summary()
    elapsed = time.monotonic() - started
    report(
        "soak",
        [{k: v for k, v in summary.items() if not isinstance(v, dict)}],
        {
            "data": f"{elapsed / 60:.1f} minutes, seed {args.seed}"
            + (f", mutant {args.mutant}" if args.mutant else ""),
            "kill_points_per_second": round(summary["kill_points"] / elapsed, 2),
            **summary,
        },
    )
    print(json.dumps({"kill_points_by_config": summary["kill_points_by_config"], "changes": summary["changes"]}))
    for label, found in (
        ("mismatch", tally.mismatches),
        ("load failure", tally.load_failures),
        ("child error", tally.child_errors),
        ("foreign file lost", tally.foreign_lost),
    ):
        for item in found[:5]:
            print(f"{label}: {item}")
    print("soak:", "OK" if tally.ok else "FAILED")
    return 0 if tally.ok else 1


if __name__ == "__main__":
    sys.exit(main())
