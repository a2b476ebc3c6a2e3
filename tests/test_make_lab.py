"""``make lab`` starts JupyterLab as root too (issue 19): JupyterLab refuses root without
``--allow-root``, so the target adds it exactly when ``id -u`` is 0.

Read with ``make -n`` (prints the commands, runs nothing); ``id`` is replaced on PATH by a
script to see both branches whoever runs the tests. Started for real by hand once (see
/work/notes/owndata.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def lab_command(tmp_path: Path, uid: int | None = None) -> str:
    """The command ``make lab`` would run (its venv's stamp treated as made), as user ``uid``
    (None: the real one)."""
    env = dict(os.environ)
    if uid is not None:
        fake = tmp_path / "bin"
        fake.mkdir(exist_ok=True)
        (fake / "id").write_text(f"#!/bin/sh\necho {uid}\n")
        (fake / "id").chmod(0o755)
        env["PATH"] = f"{fake}{os.pathsep}{env['PATH']}"
    stamp = ROOT / ".venv" / ".installed"
    out = subprocess.run(
        ["make", "-n", "-o", str(stamp), "-o", ".venv/.installed", "lab"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return next(line for line in out.splitlines() if "jupyter lab" in line)


def test_make_lab_allows_root_when_run_as_root(tmp_path):
    assert lab_command(tmp_path, uid=0).endswith("-m jupyter lab notebooks/ --allow-root")


def test_make_lab_does_not_allow_root_for_other_users(tmp_path):
    assert "--allow-root" not in lab_command(tmp_path, uid=1000)


def test_make_lab_matches_the_real_user(tmp_path):
    assert ("--allow-root" in lab_command(tmp_path)) == (os.getuid() == 0)
