"""Where each result of a multi-stage query came from: every stage's candidates, ranks and moves.

A multi-stage answer (``col.query`` with ``prefetch``, fusion, a formula or MMR) carries
``result.attrs["stages"]``: each stage's answer (``id``, ``score``, ``rank``), children before
parents, the top last. :func:`stages` turns it into one tidy DataFrame, one row per stage and
candidate, that says for each candidate

* its rank and score in the stage, and in the stage's input (the prefetch it came from), so
  ``rank_change`` shows what the rescoring stage promoted (> 0) or demoted (< 0);
* whether the stage above kept it (``kept``) and where it ended (``final_rank``, ``returned``);
* for a **fusion** stage, what each prefetch gave it (``from <path>``: the RRF term
  ``1 / ((i + 1) / w + k - 1)`` of its 0-based position ``i``, or its DBSF-normalised score;
  0 when that prefetch did not return it), computed with the engine's own fusion functions;
* for a **formula** stage, each top-level term and every value the formula read
  (``term <label>``: ``$score``, payload numbers with defaults applied, conditions as 1/0...),
  from :func:`explorekit.engine.formula_eval.formula_terms`;
* for **MMR**, ``source_rank`` is the rank by similarity to the query (the plain nearest order
  of the picked points), so ``rank_change`` is what diversity moved.

:func:`stage_ranks` pivots it into one row per candidate with one rank column per stage (the
slope chart's input, :func:`explorekit.plots.stages`).

Examples
--------
>>> import numpy as np, explorekit as ek
>>> col = ek.Collection.from_arrays(np.eye(3, dtype=np.float32), payload=[{"pop": p} for p in (0, 0, 5)],
...                                 distance="dot")
>>> result = col.query({"prefetch": [{"query": [1.0, 0.5, 0.1], "limit": 3}],
...                     "query": {"formula": {"sum": ["$score", {"mult": [0.2, "pop"]}]}}, "limit": 2})
>>> frame = stages(result, col)
>>> frame[["stage", "id", "rank", "source_rank", "rank_change", "kept", "final_rank"]]
         stage  id  rank  source_rank  rank_change   kept  final_rank
0  prefetch[0]   0     0         <NA>         <NA>   True           1
1  prefetch[0]   1     1         <NA>         <NA>  False        <NA>
2  prefetch[0]   2     2         <NA>         <NA>   True           0
3        query   2     0            2            2   True           0
4        query   0     1            0           -1   True           1
>>> frame.loc[frame["stage"] == "query", ["id", "term $score", "term mult(0.2, pop)", "term pop"]]
   id  term $score  term mult(0.2, pop)  term pop
3   2          0.1                  1.0       5.0
4   0          1.0                  0.0       0.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from explorekit._support.errors import ExploreError, short_repr
from explorekit.data.ids import IdIndex
from explorekit.data.payload import Payload
from explorekit.engine.formula_eval import formula_terms
from explorekit.engine.stages import RRF_K, dbsf, rrf
from explorekit.query.pipeline import Stage, parse_pipeline

if TYPE_CHECKING:
    from explorekit.query.methods import QueryMethods

__all__ = ["COLUMNS", "stage_ranks", "stages"]

#: The columns every :func:`stages` frame has (``from <path>`` and ``term <label>`` follow).
COLUMNS = [
    "stage",
    "kind",
    "using",
    "level",
    "id",
    "rank",
    "score",
    "sources",
    "source_rank",
    "source_score",
    "rank_change",
    "score_change",
    "kept",
    "final_rank",
    "returned",
]
FROM, TERM = "from ", "term "
_FRAME_COLUMNS = ("id", "score", "rank")  # what every stage frame holds; a formula's adds its terms
SIMILARITY = " by similarity"  # an MMR stage's plain nearest order, a column of stage_ranks


def stages(result: pd.DataFrame, col: QueryMethods | None = None) -> pd.DataFrame:
    """One row per stage and candidate of a multi-stage query: ranks, moves and what made them.

    Parameters
    ----------
    result : the DataFrame ``col.query(...)`` returned for a multi-stage body (it carries
        ``attrs["stages"]`` and ``attrs["query"]``).
    col : the collection it was asked of (local or Qdrant-backed). A local answer carries its
        formula terms; for an answer without them (Qdrant-backed) they are evaluated from the
        payload: the collection's (``retrieve``) when given, else the result's own payload
        columns, so only returned points get terms (NaN for the others).

    Returns
    -------
    pandas.DataFrame
        Stages in the order of ``attrs["stages"]`` (children first, the top last), each stage's
        candidates best first. Columns (ranks 0-based, ``<NA>`` where they do not apply):

        ``stage`` (path: ``query`` for the top, ``prefetch[0]``, ``prefetch[0].prefetch[1]``...),
        ``kind``, ``using``, ``level`` (0 for the top), ``id``, ``rank``, ``score``;
        ``sources`` (the prefetch paths that returned the candidate, comma-separated);
        ``source_rank``/``source_score`` (its best rank among those prefetches and the score
        there; for MMR the rank by similarity to the query among the picked points);
        ``rank_change`` (``source_rank - rank``: positive = promoted by this stage) and
        ``score_change``; ``kept`` (the stage above returned it; True for the top);
        ``final_rank`` and ``returned`` (in the final answer); then ``from <path>`` per
        prefetch of a fusion stage and ``term <label>`` per formula term.

        ``attrs``: ``query`` (the body), ``stages`` (paths, in order) and ``limit``.

    Raises
    ------
    ExploreError
        When ``result`` is not a multi-stage answer.
    """
    frames = _stage_frames(result)
    pipeline = parse_pipeline(result.attrs["query"], groups="group_by" in result.attrs["query"])
    by_path = {stage.path: stage for stage in pipeline.stages()}
    answers = {frame.attrs["stage"]: frame for frame in frames}
    final = _positions(result["id"]) if "id" in result.columns else {}
    parts = []
    for frame in frames:
        path = frame.attrs["stage"]
        stage = by_path.get(path)
        children = [answers[c.path] for c in (stage.prefetch if stage else ()) if c.path in answers]
        part = _stage_rows(frame, children, final)
        if stage is not None and stage.kind == "fusion":
            part = part.assign(**_fusion_columns(stage, frame, children))
        elif stage is not None and stage.kind == "formula":
            part = part.assign(**_formula_columns(stage, frame, children, result, col))
        parent = _parent_path(path)
        above = answers.get(parent) if parent is not None else None
        part["kept"] = True if above is None else part["id"].isin(set(above["id"].tolist()))
        parts.append(part)
    out = pd.concat(parts, ignore_index=True, sort=False) if parts else pd.DataFrame(columns=COLUMNS)
    extra = [c for c in out.columns if c not in COLUMNS]
    out = out[COLUMNS + extra]
    out.attrs.update(
        query=dict(result.attrs["query"]),
        stages=[frame.attrs["stage"] for frame in frames],
        limit=pipeline.top.limit,
    )
    return out


def stage_ranks(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per candidate, one rank column per stage (``<NA>`` where the stage did not return it).

    Rows: the final results in their order, then the other candidates by their best rank.
    Columns: ``id``, the stage paths (in :func:`stages` order; an MMR stage without prefetch is
    preceded by ``<path> by similarity``, the plain nearest order of its picks), ``final_rank``, ``returned``,
    ``rank_change`` (first stage rank minus final rank, for returned points) and every
    ``term ...`` column of the top stage. ``attrs["columns"]``: the rank columns, in order.

    >>> long = pd.DataFrame({"stage": ["prefetch[0]"] * 2 + ["query"], "id": [7, 8, 8], "rank": [0, 1, 0],
    ...                      "final_rank": pd.array([pd.NA, 0, 0], dtype="Int64")})
    >>> stage_ranks(long)[["id", "prefetch[0]", "query", "final_rank", "rank_change"]]
       id  prefetch[0]  query  final_rank  rank_change
    0   8            1      0           0            1
    1   7            0   <NA>        <NA>         <NA>
    """
    needed = {"stage", "id", "rank", "final_rank"}
    if not isinstance(frame, pd.DataFrame) or not needed <= set(frame.columns):
        raise ExploreError(
            f"stage_ranks: expected the frame of explorekit.analysis.stages(result) with columns "
            f"{sorted(needed)}; got {short_repr(frame)}."
        )
    stage_order = list(dict.fromkeys(frame["stage"].tolist()))
    ids = list(dict.fromkeys(frame["id"].tolist()))
    wide = pd.DataFrame({"id": pd.Series(ids, dtype=frame["id"].dtype)})
    order = []
    for path in stage_order:
        part = frame[frame["stage"] == path]
        if "kind" in part.columns and (part["kind"] == "mmr").all() and len(part) and not part["sources"].any():
            relevance = dict(zip(part["id"].tolist(), part["source_rank"].tolist()))
            column = path + SIMILARITY
            wide[column] = pd.array([relevance.get(i, pd.NA) for i in ids], dtype="Int64")
            order.append(column)
        ranks = dict(zip(part["id"].tolist(), part["rank"].tolist()))
        wide[path] = pd.array([ranks.get(i, pd.NA) for i in ids], dtype="Int64")
        order.append(path)
    finals = dict(zip(frame["id"].tolist(), frame["final_rank"].tolist()))
    wide["final_rank"] = pd.array([finals.get(i, pd.NA) for i in ids], dtype="Int64")
    wide["returned"] = wide["final_rank"].notna().to_numpy(bool)
    first = wide[order[0]] if order else pd.Series(pd.NA, index=wide.index, dtype="Int64")
    wide["rank_change"] = (first - wide["final_rank"]).astype("Int64")
    top = frame[frame["stage"] == stage_order[-1]] if stage_order else frame
    for column in [c for c in frame.columns if c.startswith(TERM)]:
        values = dict(zip(top["id"].tolist(), top[column].tolist()))
        wide[column] = [values.get(i, np.nan) for i in ids]
    best = wide[order].min(axis=1, skipna=True).astype("Float64") if order else 0
    wide["_final"] = wide["final_rank"].astype("Float64").fillna(np.inf)
    wide["_best"] = best
    wide = wide.sort_values(["_final", "_best"], kind="stable").drop(columns=["_final", "_best"])
    wide = wide.reset_index(drop=True)
    wide.attrs = {**frame.attrs, "columns": order}
    return wide


# ---------------------------------------------------------------------------------- helpers
def _stage_frames(result: Any) -> list[pd.DataFrame]:
    """The per-stage answers of a multi-stage result, or a clear error."""
    frames = result.attrs.get("stages") if isinstance(result, pd.DataFrame) else None
    if not frames or not isinstance(result.attrs.get("query"), Mapping):
        got = (
            f"a DataFrame of {len(result)} rows without attrs['{'query' if frames else 'stages'}'] (the "
            "result of a single-stage query, or a frame whose attrs were dropped)"
            if isinstance(result, pd.DataFrame)
            else short_repr(result)
        )
        raise ExploreError(
            f"stages: expected the DataFrame of a multi-stage col.query(...) (with prefetch, fusion, "
            f"formula or mmr), which carries attrs['stages']; got {got}. Ask e.g. "
            "col.query({'prefetch': [{'query': v, 'limit': 50}], 'query': v, 'limit': 10})."
        )
    return list(frames)


def _positions(ids: Sequence[Any]) -> dict[Any, int]:
    out: dict[Any, int] = {}
    for position, value in enumerate(list(ids)):
        out.setdefault(value, position)
    return out


def _parent_path(path: str) -> str | None:
    """``prefetch[0].prefetch[1]`` -> ``prefetch[0]``; ``prefetch[2]`` -> ``query``; ``query`` -> None."""
    if path == "query":
        return None
    head, dot, _ = path.rpartition(".")
    return head if dot else "query"


def _level(path: str) -> int:
    return 0 if path == "query" else path.count(".") + 1


def _stage_rows(frame: pd.DataFrame, children: list[pd.DataFrame], final: dict[Any, int]) -> pd.DataFrame:
    """The common columns of one stage's candidates."""
    ids = frame["id"].tolist()
    n = len(ids)
    ranks = frame["rank"].to_numpy(np.int64)
    scores = frame["score"].to_numpy(np.float64)
    sources, source_rank, source_score = [""] * n, [pd.NA] * n, [np.nan] * n
    for child in children:
        where = _positions(child["id"])
        child_scores = child["score"].to_numpy(np.float64)
        for i, ident in enumerate(ids):
            if ident not in where:
                continue
            j = where[ident]
            sources[i] = f"{sources[i]}, {child.attrs['stage']}" if sources[i] else child.attrs["stage"]
            if source_rank[i] is pd.NA or j < source_rank[i]:
                source_rank[i], source_score[i] = j, float(child_scores[j])
    if not children and frame.attrs.get("kind") == "mmr":
        by_relevance = np.argsort(-scores, kind="stable")
        relevance_rank = np.empty(n, np.int64)
        relevance_rank[by_relevance] = np.arange(n)
        source_rank, source_score = relevance_rank.tolist(), scores.tolist()
    source_rank_array = pd.array(source_rank, dtype="Int64")
    path = frame.attrs["stage"]
    final_rank = pd.array([final.get(i, pd.NA) for i in ids], dtype="Int64")
    return pd.DataFrame(
        {
            "stage": [path] * n,
            "kind": [frame.attrs.get("kind")] * n,
            "using": [frame.attrs.get("using")] * n,
            "level": np.full(n, _level(path), np.int64),
            "id": pd.Series(ids, dtype=frame["id"].dtype),
            "rank": ranks,
            "score": scores,
            "sources": sources,
            "source_rank": source_rank_array,
            "source_score": np.asarray(source_score, np.float64),
            "rank_change": source_rank_array - pd.array(ranks, dtype="Int64"),
            "score_change": scores - np.asarray(source_score, np.float64),
            "final_rank": final_rank,
            "returned": ~np.asarray(pd.isna(final_rank), bool),
        }
    )


def _codes(frames: list[pd.DataFrame]) -> dict[Any, int]:
    """An integer per id, so the engine's fusion functions (which work on rows) can be reused."""
    out: dict[Any, int] = {}
    for frame in frames:
        for ident in frame["id"].tolist():
            out.setdefault(ident, len(out))
    return out


def _fusion_columns(stage: Stage, frame: pd.DataFrame, children: list[pd.DataFrame]) -> dict[str, np.ndarray]:
    """``from <path>``: what each prefetch added to each candidate's fused score (0: not in it)."""
    code = _codes([frame, *children])
    spec = stage.spec
    weights = spec.get("weights")
    out = {}
    for i, child in enumerate(children):
        source = (np.array([code[v] for v in child["id"].tolist()], np.int64), child["score"].to_numpy(np.float64))
        if spec.get("method") == "dbsf":
            rows, gains = dbsf([source])
        else:
            k = RRF_K if spec.get("k") is None else spec["k"]
            rows, gains = rrf([source], k, None if weights is None else [weights[i]])
        gain = dict(zip(rows.tolist(), gains.tolist()))
        out[FROM + child.attrs["stage"]] = np.array([gain.get(code[v], 0.0) for v in frame["id"].tolist()])
    return out


def _formula_columns(
    stage: Stage, frame: pd.DataFrame, children: list[pd.DataFrame], result: pd.DataFrame, col: Any
) -> dict[str, np.ndarray]:
    """``term <label>``: each top-level term and every value the formula read, per candidate.

    A local answer's stage frame already holds them (recorded by the engine during the
    evaluation); otherwise (a Qdrant-backed answer) they are evaluated here from the payload."""
    recorded = [c for c in frame.columns if c not in _FRAME_COLUMNS]
    if recorded:
        return {TERM + _label(c): frame[c].to_numpy(np.float64) for c in recorded}
    ids = frame["id"].tolist()
    payload, index, rows = _payload_of(ids, result, col)
    known = rows >= 0
    columns: dict[str, np.ndarray] = {}
    if not known.any():
        return columns
    scores = []
    for child in children:
        where = _positions(child["id"])
        child_scores = child["score"].to_numpy(np.float64)
        scores.append(np.array([child_scores[where[i]] if i in where else np.nan for i in ids])[known])
    terms = formula_terms(stage.spec["formula"], payload, index, rows[known], scores)
    for label, values in terms.items():
        if label == "score":
            continue
        full = np.full(len(ids), np.nan)
        full[known] = values
        columns[TERM + label] = full
    return columns


def _label(column: str) -> str:
    """The term label of a recorded column (a label clashing with id/score/rank got a 'term ' prefix)."""
    bare = column[len(TERM) :] if column.startswith(TERM) else column
    return bare if bare in _FRAME_COLUMNS else column


def _payload_of(ids: list[Any], result: pd.DataFrame, col: Any) -> tuple[Payload, IdIndex | None, np.ndarray]:
    """The payload the formula read for ``ids``, and each id's row in it (-1: unknown).

    A local collection's own payload; else a Qdrant-backed collection's (``retrieve``); else
    the payload columns of the result (only its points, and only when it shows the whole payload)."""
    store = getattr(col, "store", None)
    if store is not None:
        return store.payload, store.ids, store.ids.rows(ids)
    if col is not None:
        table = col.retrieve(ids)
    elif result.attrs["query"].get("with_payload", True) not in (True, None):
        return Payload.from_records([]), None, np.full(len(ids), -1, np.int64)  # the result shows only part
    else:
        table = result.drop(columns=[c for c in ("score", "group", "vector") if c in result.columns])
        table = table.drop_duplicates(subset="id")
    records = [_record(row) for row in table.drop(columns="id").to_dict("records")]
    where = _positions(table["id"])
    rows = np.array([where.get(i, -1) for i in ids], np.int64)
    return Payload.from_records(records), IdIndex(table["id"].tolist()), rows


def _record(row: Mapping[str, Any]) -> dict[str, Any]:
    """A payload record from a frame row: missing keys (NaN/None) left out."""
    return {k: v for k, v in row.items() if not (v is None or (isinstance(v, float) and np.isnan(v)))}
