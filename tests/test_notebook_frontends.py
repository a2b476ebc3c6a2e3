"""``ek.report.setup_notebook()`` under each notebook front end, simulated in a fresh interpreter.

plotly picks its own default renderer when it is imported, from the environment; so every case
runs in a subprocess with the environment of that front end (Colab's and VS Code's variables, or
a stand-in ``google.colab`` module in ``sys.modules`` as Colab's kernel has) and reports the
renderer ``setup_notebook()`` chose and what a figure's output would hold.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MARKERS = ("COLAB_RELEASE_TAG", "COLAB_NOTEBOOK_ID", "VSCODE_PID", "VSCODE_CWD", "PLOTLY_RENDERER")
PROBE = """
import json, sys, types
if {fake_colab!r}:
    sys.modules["google.colab"] = types.ModuleType("google.colab")
import plotly.graph_objects as go
import plotly.io as pio
import explorekit as ek
chosen = ek.report.setup_notebook(*{args!r})
bundles = [pio.renderers[name].to_mimebundle(go.Figure(go.Bar(y=[1])).to_dict())
           for name in pio.renderers.default.split("+")]
html = " ".join(b.get("text/html", "") for b in bundles)
print(json.dumps({{"chosen": chosen, "default": pio.renderers.default,
                  "mimetypes": sorted({{k for b in bundles for k in b}}),
                  "cdn_script": "cdn.plot.ly" in html}}))
"""


def probe(env: dict[str, str], *, fake_colab: bool = False, args: tuple = ()) -> dict:
    """Run setup_notebook() in a fresh interpreter with only ``env``'s front-end markers set."""
    base = {k: v for k, v in os.environ.items() if k not in MARKERS}
    base["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), base.get("PYTHONPATH", "")) if p)
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(fake_colab=fake_colab, args=args)],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("env", "modules", "expected"),
    [
        ({}, (), "jupyter"),
        ({"JPY_PARENT_PID": "1"}, ("ipykernel",), "jupyter"),
        ({"COLAB_RELEASE_TAG": "x"}, (), "colab"),
        ({}, ("google.colab",), "colab"),
        ({"VSCODE_PID": "1"}, (), "vscode"),
        ({"VSCODE_CWD": "/w"}, (), "vscode"),
        ({"VSCODE_PID": "1"}, ("google.colab",), "colab"),
    ],
)
def test_front_end_rules(env, modules, expected):
    from explorekit.report._notebook import front_end

    assert front_end(env, modules=modules) == expected


def test_jupyter_gets_the_mimetype_and_an_offline_html_copy():
    got = probe({})
    assert got["default"] == "plotly_mimetype+explorekit", got  # the renderer in use
    assert got["chosen"] == "plotly_mimetype+explorekit"  # and setup_notebook() says which
    assert got["mimetypes"] == ["application/vnd.plotly.v1+json", "text/html"]


@pytest.mark.parametrize(
    ("env", "fake_colab"),
    [
        ({"COLAB_RELEASE_TAG": "release-colab_20261201-060000_RC00"}, False),
        ({}, True),
        ({"COLAB_NOTEBOOK_ID": "1x"}, False),
    ],
    ids=["COLAB_RELEASE_TAG", "google.colab module", "COLAB_NOTEBOOK_ID"],
)
def test_colab_keeps_plotlys_colab_renderer(env, fake_colab):
    """Colab isolates each output: every figure must load plotly.js itself (the colab renderer does)."""
    got = probe(env, fake_colab=fake_colab)
    assert got["default"] == "colab", got  # the renderer in use
    assert got["chosen"] == "colab"  # and setup_notebook() says which
    assert got["mimetypes"] == ["text/html"] and got["cdn_script"]


@pytest.mark.parametrize("variable", ["VSCODE_PID", "VSCODE_CWD"])
def test_vscode_keeps_plotlys_vscode_renderer(variable):
    got = probe({variable: "/home/me" if variable == "VSCODE_CWD" else "4242"})
    assert got["default"] == "vscode", got  # the renderer in use
    assert got["chosen"] == "vscode"  # and setup_notebook() says which
    assert got["mimetypes"] == ["application/vnd.plotly.v1+json"]


def test_plotly_renderer_variable_is_the_users_choice():
    got = probe({"PLOTLY_RENDERER": "json", "VSCODE_PID": "4242"})
    assert got["default"] == "json", got  # the renderer in use
    assert got["chosen"] == "json"  # and setup_notebook() says which


def test_an_explicit_renderer_wins_over_detection():
    got = probe({"COLAB_RELEASE_TAG": "x"}, args=("plotly_mimetype+notebook",))
    assert got["default"] == "plotly_mimetype+notebook", got  # the renderer in use
    assert got["chosen"] == "plotly_mimetype+notebook"  # and setup_notebook() says which
