"""The Explorer without a browser: its model, and the widget driven through callbacks and traits.

Every result the widget shows must equal the public API call for the same request, and bad
input must show a message while keeping the examples, the result and the query.
"""

from __future__ import annotations

import copy
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plotly.callbacks import BoxSelector, Points

import explorekit as ek
from explorekit.widgets import Explorer, ExplorerState, Selection
from explorekit.widgets._figure import ASK, READY, TAKE, plotly_bundle
from explorekit.widgets._model import parse_ids_or_query
from explorekit.widgets._shapes import anchors, named
from explorekit.widgets._state import ADD_CAP, parse_filter
from explorekit.widgets._table import to_html

_MESSAGES = ("_py2js_update", "_py2js_restyle", "_py2js_relayout", "_py2js_addTraces", "_py2js_deleteTraces")


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def fruit() -> ek.Collection:
    return ek.datasets.load("clusters2d", as_collection=True)


@pytest.fixture()
def explorer(fruit) -> Explorer:
    return Explorer(fruit, projection="auto", color="fruit")


def click(ex: Explorer, point_id, trace_index: int | None = None) -> None:
    """What plotly does on a click: call each base trace's handler; the clicked one gets the point."""
    for k, ids in enumerate(ex._base_ids):
        inds = [ids.index(point_id)] if point_id in ids and trace_index in (None, k) else []
        trace = ex.figure.data[k]
        trace._dispatch_on_click(Points(point_inds=inds, xs=[], ys=[], trace_name=trace.name, trace_index=k), None)


def select(ex: Explorer, point_ids) -> None:
    """A box selection over these points, dispatched per base trace as plotly does."""
    box = BoxSelector(xrange=[0, 1], yrange=[0, 1])
    for k, ids in enumerate(ex._base_ids):
        inds = [i for i, v in enumerate(ids) if v in set(point_ids)]
        trace = ex.figure.data[k]
        trace._dispatch_on_selection(Points(point_inds=inds, xs=[], ys=[], trace_name=trace.name, trace_index=k), box)


def same(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(left, right)
    assert left.attrs["query"] == right.attrs["query"]


def frozen(ex: Explorer) -> tuple:
    result = None if ex.result is None else ex.result.copy()
    return copy.deepcopy(ex.examples), result, ex.query


def assert_kept(ex: Explorer, before: tuple) -> None:
    examples, result, query = before
    assert ex.examples == examples
    assert ex.query == query
    if result is None:
        assert ex.result is None
    else:
        pd.testing.assert_frame_equal(ex.result, result)


# ---------------------------------------------------------------------------- the model
def test_selection_click_toggles_and_moves_between_roles():
    sel = Selection()
    assert sel.click("positive", 1) == "positive 1 added"
    sel.click("negative", 2)
    sel.click("negative", 1)  # 1 moves from positive to negative
    assert sel.as_dict() == {"positive": [], "negative": [2, 1], "target": None, "context": []}
    sel.click("negative", 2)  # clicking again removes
    sel.click("target", 1)  # moves to target
    assert sel.as_dict() == {"positive": [], "negative": [], "target": 1, "context": []}
    assert sel.suggested_kind() == "discover"


def test_selection_context_pairs_take_two_clicks():
    sel = Selection()
    assert "now click its negative" in sel.click("context pair", 5)
    assert sel.context == [] and sel.pending == 5
    assert sel.click("context pair", 5) == "context pair cancelled"
    sel.click("context pair", 5)
    sel.click("context pair", 6)
    sel.add("context pair", [7, 8, 9])  # pairs (7, 8), then 9 waits for its partner
    assert sel.context == [(5, 6), (7, 8)] and sel.pending == 9
    assert [e[0] for e in sel.entries()] == ["context", "context", "pending"]
    sel.remove("context", 0)
    assert sel.context == [(7, 8)]


def test_selection_add_never_toggles_and_skips_duplicates():
    sel = Selection()
    sel.add("positive", [1, 2])
    assert sel.add("positive", [2, 3, 3]) == "1 positive example(s) added (2 already chosen)"
    assert sel.positive == [1, 2, 3]
    with pytest.raises(ek.ExploreError, match="a discovery has one target"):
        sel.add("target", [1, 2])
    with pytest.raises(ek.ExploreError, match="'inspect' mode does not choose examples"):
        sel.add("inspect", [1])


def test_selection_replace_checks_everything_first():
    sel = Selection()
    sel.add("positive", [1])
    with pytest.raises(ek.ExploreError, match="unknown role"):
        sel.replace({"positive": [2], "postive": [3]})
    with pytest.raises(ek.ExploreError, match=r"examples\['context'\]\[0\].*not a \(positive, negative\) pair"):
        sel.replace({"positive": [2], "context": [(1, 2, 3)]})
    assert sel.positive == [1]
    sel.replace({"positive": [[0.5, 0.5]], "context": [{"positive": 1, "negative": 2}]})
    assert isinstance(sel.positive[0], np.ndarray) and sel.context == [(1, 2)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("3, 17 ,42", ("ids", [3, 17, 42])),
        ("3 17", ("ids", [3, 17])),
        ("[1, 2]", ("ids", [1, 2])),
        ("'apple-1', \"pear 2\"", ("ids", ["apple-1", "pear 2"])),
        ("apple_1, pear_2", ("ids", ["apple_1", "pear_2"])),
        ("fruit == 'apple'", ("query", "fruit == 'apple'")),
        ("sweetness > 8 and organic", ("query", "sweetness > 8 and organic")),
    ],
)
def test_parse_ids_or_query(text, expected):
    assert parse_ids_or_query(text) == expected


def test_parse_filter():
    assert parse_filter("  ") is None
    assert parse_filter('{"must": []}') == {"must": []}
    assert parse_filter("x > 1") == "x > 1"
    with pytest.raises(ek.FilterError, match=r"is not valid JSON \(.* line 1, column"):
        parse_filter('{"must": [}')
    with pytest.raises(ek.FilterError, match="JSON but not an object"):
        parse_filter("[1, 2]")


def test_results_table_escapes_and_shows_thumbnails():
    frame = pd.DataFrame(
        {
            "id": [1],
            "score": [0.25],
            "text": ["<script>"],
            "thumb": ["data:image/png;base64,AAAA"],
            "tags": [["a", "b"]],
            "missing": [np.nan],
        }
    )
    page = to_html(frame)
    assert "&lt;script&gt;" in page and "<script>" not in page
    assert '<img alt="" src="data:image/png;base64,AAAA">' in page and "[a, b]" in page
    assert "No result yet" in to_html(None) and "matched no point" in to_html(frame.iloc[:0])


def test_results_table_cells_are_the_reports(fruit):
    """The Explorer and the report show a result with the same cells (one renderer)."""
    result = fruit.search(fruit.vectors()[0], limit=4, with_vectors=True)
    result["tags"] = [["a", "<b>"], [], [1.5], list("abcdefgh")]
    cells = re.compile(r'<td(?: class="[^"]*")?(?: data-v="[^"]*")?>(.*?)</td>')
    widget = [row.split("</td>", 1)[1] for row in re.findall(r"<tr data-id.*?</tr>", to_html(result))]
    report = re.findall(r"<tr data-id.*?</tr>", ek.Report("T").add(result).to_html())
    assert [cells.findall(r) for r in widget] == [cells.findall(r) for r in report]
    first = cells.findall(report[0])
    assert first[1] == f"{result['score'][0]:.4g}" and "(2-d)" not in first[-2]
    assert first[-1] == "[a, &lt;b&gt;]"


# ---------------------------------------------------------------------------- the state (no widgets)
def test_state_runs_the_public_methods(fruit):
    state = ExplorerState(fruit)
    state.click("positive", 3)
    state.click("negative", 250)
    same(state.result, fruit.recommend(positive=[3], negative=[250]))
    for strategy in ("best_score", "sum_scores", "average_vector"):
        state.set_strategy(strategy)
        same(state.result, fruit.recommend(positive=[3], negative=[250], strategy=strategy))
    same(fruit.query(state.query), state.result)
    state.set_kind("search")
    assert state.result is None and "exactly one example" in state.hint  # two examples: a hint
    state.click("negative", 250)
    same(state.result, fruit.search(3))


SMALL = ek.Collection.from_arrays(np.random.default_rng(3).normal(size=(30, 4)).astype(np.float32), distance="dot")


@settings(max_examples=40, deadline=None)
@given(
    clicks=st.lists(
        st.tuples(st.sampled_from(["positive", "negative", "target", "context pair"]), st.integers(0, 29)), max_size=12
    ),
    strategy=st.sampled_from(["average_vector", "best_score", "sum_scores"]),
)
def test_any_click_sequence_gives_the_api_answer(clicks, strategy):
    state = ExplorerState(SMALL)
    state.set_strategy(strategy)
    for mode, point in clicks:
        state.click(mode, point)
        chosen = state.selection.as_dict()
        roles = [set(chosen["positive"]), set(chosen["negative"]), {chosen["target"]} - {None}]
        assert not (roles[0] & roles[1] or roles[0] & roles[2] or roles[1] & roles[2])
        kind = state.resolved_kind()
        try:
            if kind == "recommend":
                expected = SMALL.recommend(positive=chosen["positive"], negative=chosen["negative"], strategy=strategy)
            elif kind in ("discover", "context"):
                expected = SMALL.discover(target=chosen["target"], context=chosen["context"])
            else:
                expected = None
        except ek.ExploreError as err:
            assert state.result is None and state.hint == str(err)
            continue
        if expected is None:
            assert state.result is None
        else:
            same(state.result, expected)
            same(SMALL.query(state.query), expected)


# ---------------------------------------------------------------------------- the widget
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"limit": 0}, "limit: 0 is not a positive integer"),
        ({"projection": "tsne"}, "Unknown projection method 'tsne'"),
        ({"color": "fruits"}, "Did you mean 'fruit'"),
        ({"hover": ["sweet"]}, "Unknown payload column"),
    ],
)
def test_constructor_bad_input_names_the_fix(fruit, kwargs, message):
    with pytest.raises(ek.ExploreError, match=message):
        Explorer(fruit, **{"projection": "auto", **kwargs})


def test_clicks_match_the_api(explorer, fruit):
    click(explorer, 3)  # default mode: positive
    same(explorer.result, fruit.recommend(positive=[3]))
    explorer.mode.set_state({"index": 1})  # what the browser sends for "negative"
    assert explorer.mode.value == "negative"
    click(explorer, 120)
    assert explorer.examples == {"positive": [3], "negative": [120], "target": None, "context": []}
    same(explorer.result, fruit.recommend(positive=[3], negative=[120]))
    same(fruit.query(explorer.query), explorer.result)  # the next cell continues from here
    click(explorer, 120)  # a second click removes it
    same(explorer.result, fruit.recommend(positive=[3]))


def test_strategy_switches_match_the_api(explorer, fruit):
    explorer.examples = {"positive": [3, 60], "negative": [250]}
    for index, strategy in enumerate(["average_vector", "best_score", "sum_scores"]):
        explorer.strategy.set_state({"index": index})
        same(explorer.result, fruit.recommend(positive=[3, 60], negative=[250], strategy=strategy))
        assert explorer.query["query"]["recommend"]["strategy"] == strategy
    assert not explorer.strategy.disabled


def test_discover_and_context_clicks(explorer, fruit):
    explorer.mode.value = "context pair"
    click(explorer, 0)
    assert explorer.result is None and "negative side" in explorer.status.value
    click(explorer, 280)
    same(explorer.result, fruit.discover(target=None, context=[(0, 280)]))
    explorer.mode.value = "target"
    click(explorer, 100)
    same(explorer.result, fruit.discover(target=100, context=[(0, 280)]))
    assert explorer.strategy.disabled
    explorer.kind.value = "context"  # chosen by hand: the target is left out
    same(explorer.result, fruit.discover(context=[(0, 280)]))
    explorer.kind.value = "auto"
    same(explorer.result, fruit.discover(target=100, context=[(0, 280)]))


def test_typed_ids_and_queries_match_the_api(explorer, fruit):
    explorer.add_box.set_state({"value": "3, 17"})
    assert explorer.add_box.value == ""  # accepted: the box is emptied
    same(explorer.result, fruit.recommend(positive=[3, 17]))
    explorer.mode.value = "negative"
    explorer.add_box.value = "fruit == 'lime' and sweetness > 4"
    limes = fruit.scroll(filter="fruit == 'lime' and sweetness > 4")["id"].tolist()
    assert explorer.examples["negative"] == limes
    same(explorer.result, fruit.recommend(positive=[3, 17], negative=limes))
    explorer.limit.set_state({"value": 4})
    same(explorer.result, fruit.recommend(positive=[3, 17], negative=limes, limit=4))


def test_filter_box_json_and_pandas(explorer, fruit):
    explorer.examples = {"positive": [3]}
    explorer.filter_box.set_state({"value": "organic == True and price < 1"})
    same(explorer.result, fruit.recommend(positive=[3], filter="organic == True and price < 1"))
    body = '{"must": [{"key": "family", "match": {"value": "citrus"}}]}'
    explorer.filter_box.value = body
    same(
        explorer.result,
        fruit.recommend(positive=[3], filter={"must": [{"key": "family", "match": {"value": "citrus"}}]}),
    )
    same(fruit.query(explorer.query), explorer.result)
    explorer.filter_box.value = ""
    same(explorer.result, fruit.recommend(positive=[3]))


@pytest.mark.parametrize(
    "widget, value, message",
    [
        ("add_box", "3, 99999", "No point with id 99999"),
        ("add_box", "no_such_column > 3", "no_such_column"),
        ("add_box", "fruit == 'durian'", "matches no point"),
        ("filter_box", '{"must": [', "is not valid JSON"),
        ("filter_box", "no_such_column > 3", "no_such_column"),
        ("filter_box", '{"must": [{"key": "fruit", "match": {"valeu": "x"}}]}', "valeu"),
    ],
)
def test_bad_input_shows_a_message_and_keeps_the_state(explorer, widget, value, message):
    explorer.examples = {"positive": [3], "negative": [250]}
    explorer.filter_box.value = "sweetness > 2"
    before = frozen(explorer)
    getattr(explorer, widget).set_state({"value": value})  # never raises into the notebook
    assert message in explorer.status.value and "&#9888;" in explorer.status.value
    assert_kept(explorer, before)
    assert explorer.state.filter == "sweetness > 2"
    if widget == "add_box":
        assert explorer.add_box.value == value  # kept, so it can be fixed


def test_too_many_points_in_a_box_is_a_message(fruit):
    many = ek.Collection.from_arrays(np.random.default_rng(0).normal(size=(ADD_CAP + 20, 3)))
    ex = Explorer(many, projection="pca")
    before = frozen(ex)
    select(ex, list(range(ADD_CAP + 5)))
    assert f"at most {ADD_CAP} are added" in ex.status.value
    assert_kept(ex, before)


def test_assigning_examples_updates_the_widget(explorer, fruit):
    explorer.examples = {"positive": [3, 60], "negative": [250], "context": [(1, 2)]}
    assert explorer.state.resolved_kind() == "discover" or explorer.state.resolved_kind() == "context"
    same(explorer.result, fruit.discover(context=[(1, 2)]))
    shown = [row.children[1].value for row in explorer.example_list.children if row.layout.display != "none"]
    names = [f"{fruit.payload['fruit'][i]} ({i})" for i in (3, 60, 250, 1, 2)]  # by name (issue 19)
    assert shown == [f"<b>positive</b> {names[0]}", f"<b>positive</b> {names[1]}", f"<b>negative</b> {names[2]}"] + [
        f"<b>context</b> {names[3]} vs {names[4]}"
    ]
    x, _ = anchors(explorer.figure.layout.shapes, "examples")  # overlays are layout shapes
    assert len(x) == 5 and np.isfinite(np.asarray(x, float)).all()
    assert len(named(explorer.figure.layout.shapes, "pair")) == 1  # one context-pair line
    before = frozen(explorer)
    with pytest.raises(ek.UnknownIdError, match="99999"):
        explorer.examples = {"positive": [99999]}  # from Python: raises, state kept
    assert_kept(explorer, before)
    assert "99999" in explorer.status.value
    explorer.examples = {"positive": [[-6.0, 4.0]]}  # a raw vector is placed on the map
    same(explorer.result, fruit.recommend(positive=[[-6.0, 4.0]]))
    assert np.allclose([anchors(explorer.figure.layout.shapes, "examples")[0][0]], [-6.0])


def test_remove_buttons_and_clear(explorer, fruit):
    explorer.examples = {"positive": [3, 60], "negative": [250]}
    explorer.example_list.children[1].children[0].click()  # remove positive 60
    assert explorer.examples["positive"] == [3]
    same(explorer.result, fruit.recommend(positive=[3], negative=[250]))
    explorer.clear_button.click()
    assert explorer.examples == {"positive": [], "negative": [], "target": None, "context": []}
    assert explorer.result is None and explorer.query is None


def test_box_selection_adds_examples_and_inspect_selects(explorer, fruit):
    select(explorer, [3, 4, 5])
    assert explorer.examples["positive"] == [3, 4, 5]
    same(explorer.result, fruit.recommend(positive=[3, 4, 5]))
    explorer.mode.value = "inspect"
    before = frozen(explorer)
    select(explorer, [10, 200, 201])
    assert sorted(explorer.selection["id"].tolist()) == [10, 200, 201]
    pd.testing.assert_frame_equal(
        explorer.selection.sort_values("id").reset_index(drop=True), fruit.retrieve([10, 200, 201])
    )
    click(explorer, 42)  # inspect: read, do not choose
    assert explorer.selection["id"].tolist() == [42] and "42" in explorer.inspect.value
    explorer.add_box.value = "fruit == 'plum' and price > 1.2"  # typed: selects, does not choose
    pd.testing.assert_frame_equal(explorer.selection, fruit.scroll(filter="fruit == 'plum' and price > 1.2"))
    assert_kept(explorer, before)


def test_only_overlays_travel_after_construction(explorer):
    sent = []
    for name in _MESSAGES:
        explorer.figure.observe(
            lambda ch, name=name: sent.append((name, ch["new"])) if ch["new"] else None, names=[name]
        )
    click(explorer, 3)
    explorer.mode.value = "negative"
    click(explorer, 250)
    explorer.strategy.value = "best_score"
    assert sent, "overlay updates should reach the front end"
    for name, message in sent:
        # the overlays are layout shapes: one relayout of the shapes, no trace restyle (a restyle
        # makes plotly.js recalculate and redraw every point of the map)
        assert name == "_py2js_relayout", name
        assert set(message["relayout_data"]) == {"shapes"}, message["relayout_data"]


def test_front_end_click_message_reaches_the_model(explorer, fruit):
    """The integration seam: the message plotly's front end assigns (plotly 7.1 private trait)."""
    import plotly

    assert plotly.__version__.split(".")[0] == "7", (
        f"plotly {plotly.__version__}: _js2py_pointsCallback was verified on 7.1; re-check the seam"
    )
    trace = next(k for k, ids in enumerate(explorer._base_ids) if 3 in ids)
    explorer.figure._js2py_pointsCallback = {
        "event_type": "plotly_click",
        "selector": None,
        "device_state": None,
        "points": {
            "trace_indexes": [trace],
            "point_indexes": [explorer._base_ids[trace].index(3)],
            "xs": [0.0],
            "ys": [0.0],
        },
    }
    same(explorer.result, fruit.recommend(positive=[3]))


# ---------------------------------------------------------------------------- widget state size
def front_end_says(figure, kind: str) -> list[tuple[dict, list]]:
    """Deliver a custom message from the front end; return what the figure sent back."""
    replies: list[tuple[dict, list]] = []
    figure.send = lambda content, buffers=None: replies.append((content, list(buffers or [])))
    figure._handle_custom_msg({"type": kind}, [])
    return replies


def test_no_plotly_bundle_in_the_widget_state(explorer):
    """plotly's ~5 MB widget code is not in any figure's state (issue 18: 10.2 MB of 10.9 were two copies)."""
    for figure in (explorer.figure, explorer.explanation):
        state = figure.get_state()
        assert len(state["_esm"]) < 10_000, f"{len(state['_esm']):,} characters of JavaScript in the widget state"


def test_the_front_end_gets_plotlys_bundle_on_request(explorer):
    replies = front_end_says(explorer.figure, ASK)
    assert [content for content, _ in replies] == [{"type": TAKE}]
    bundle = replies[0][1][0]
    assert bundle == plotly_bundle() and len(bundle) > 1_000_000
    assert explorer.figure.bundles_sent == 1 and explorer.explanation.bundles_sent == 0
    assert b"FigureView" in bundle  # plotly's own widget front end, as go.FigureWidget ships it
    assert front_end_says(explorer.figure, "something else") == []


def test_a_ready_front_end_gets_the_overlays_again(explorer, fruit):
    """Overlay changes made before the page had plotly's code are sent again once it is ready."""
    explorer.examples = {"positive": [3], "negative": [250]}
    explorer.mode.value = "inspect"  # lasso drag mode
    sent = []
    for name in _MESSAGES:
        explorer.figure.observe(lambda ch: sent.append(ch["new"]) if ch["new"] else None, names=[name])
    front_end_says(explorer.figure, READY)
    shapes = [m["relayout_data"]["shapes"] for m in sent if "shapes" in m.get("relayout_data", {})]
    examples = [named(s, "examples") for s in shapes]
    assert [len(x) for x in examples] == [0, 2], sent  # emptied, then both examples again (layout shapes)
    assert [m["relayout_data"]["dragmode"] for m in sent if "dragmode" in m.get("relayout_data", {})] == [
        "pan",
        "lasso",
    ]
    assert explorer.examples["positive"] == [3] and explorer.result is not None  # state untouched
    same(explorer.result, fruit.recommend(positive=[3], negative=[250]))


def test_a_new_tab_is_built_when_it_shows(explorer):
    """The extension point for more views (a graph tab): built when shown and after each change."""
    import ipywidgets as W

    built = []
    view = W.HTML()
    explorer.add_tab("graph", view, on_show=lambda: built.append(len(explorer.examples["positive"])))
    assert explorer.tabs.titles[-1] == "graph" and explorer.tabs.children[-1] is view
    click(explorer, 3)
    assert built == []  # not showing: nothing built
    explorer.show_tab("graph")
    click(explorer, 4)
    assert built == [1, 2] and explorer.shown_tab() == "graph"
    select(explorer, [5])  # inspect still brings its own tab to the front
    explorer.mode.value = "inspect"
    click(explorer, 5)
    assert explorer.shown_tab() == "inspect"


def test_results_table_and_explanation(explorer, fruit):
    click(explorer, 3)
    assert explorer.table.value.count("<tr") == 1 + len(explorer.result)  # header + one row a point
    assert "fruit" in explorer.table.value
    explorer.tabs.selected_index = 1  # built when its tab shows
    roles = [t.meta["role"] for t in explorer.explanation.data if t.meta]
    assert "results" in roles and "positive" in roles
    snap = explorer.snapshot()
    assert set(snap) == {"map", "explanation", "result", "query", "examples"}
    assert snap["examples"]["target"] == [] and snap["query"] == explorer.query
    assert type(snap["map"]).__name__ == "Figure"


def test_quantization_controls(fruit):
    col = ek.datasets.load("digits", as_collection=True)
    plain = Explorer(col, using="pca", projection="pca")
    assert plain.quantization.layout.display == "none"
    col.quantize({"scalar": {"type": "int8", "quantile": 0.99}}, using="pca")
    ex = Explorer(col, using="pca", projection="pca")
    assert ex.quantization.layout.display == "flex"
    ex.examples = {"positive": [0, 10]}
    same(ex.result, col.recommend(positive=[0, 10], using="pca"))
    ex.oversampling.value = 3.0
    ex.rescore.value = True
    params = {"quantization": {"rescore": True, "oversampling": 3.0}}
    same(ex.result, col.recommend(positive=[0, 10], using="pca", params=params))
    assert ex.query["params"] == params
    ex.ignore.value = True
    same(
        ex.result,
        col.recommend(
            positive=[0, 10],
            using="pca",
            params={"quantization": {"rescore": True, "oversampling": 3.0, "ignore": True}},
        ),
    )


def test_remote_collection_has_the_same_answers(fruit):
    from qdrant_client import QdrantClient

    from explorekit.backends.qdrant import to_qdrant

    remote = to_qdrant(fruit, QdrantClient(":memory:"), "fruit", progress=False)
    ex = Explorer(remote, projection="auto")
    click(ex, 3)
    ex.mode.value = "negative"
    click(ex, 250)
    same(ex.result, remote.recommend(positive=[3], negative=[250]))
    ex.filter_box.value = "organic == True"
    same(ex.result, remote.recommend(positive=[3], negative=[250], filter="organic == True"))
    before = frozen(ex)
    ex.add_box.value = "99999"
    assert "99999" in ex.status.value
    assert_kept(ex, before)
    assert "server" in ex.explanation_figure().layout.annotations[0].text


def test_to_report(explorer):
    pytest.importorskip("explorekit.report")
    click(explorer, 3)
    report = explorer.to_report(title="clicked")
    assert report.items[:3] == ["markdown", "figure", "table"]
    assert "clicked" in report.to_html()


def test_the_pages_echo_of_an_overlay_change_is_ignored_and_other_relayouts_apply(explorer):
    """The page reports a shapes change made from Python back (lean_figure.js keeps plotly.js
    from recalculating the map for it); a late echo must not put back overlays replaced since."""
    explorer.examples = {"positive": [3]}
    old = [s.to_plotly_json() for s in explorer.figure.layout.shapes]
    explorer.examples = {"positive": [3, 60]}
    now = list(explorer.figure.layout.shapes)
    explorer.figure._js2py_relayout = {"relayout_data": {"shapes": old}, "source_view_id": "page"}
    assert list(explorer.figure.layout.shapes) == now
    explorer.figure._js2py_relayout = {"relayout_data": {"xaxis.range": [0.0, 1.0]}, "source_view_id": "page"}
    assert explorer.figure.layout.xaxis.range == (0.0, 1.0)  # a pan or zoom in the page still applies
