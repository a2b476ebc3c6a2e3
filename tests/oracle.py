"""The oracles: the same data and request through explorekit, qdrant-client local mode and
qdrant-edge (Qdrant's own engine, shard level), compared on ids and scores.

qdrant-edge works below the collection layer, so here (as the reference says) ids are resolved
to stored vectors by hand, average_vector is averaged by hand, and example ids are excluded
with a must_not has_id filter.
"""

from __future__ import annotations

import math
import tempfile
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import qdrant_edge as qe
from qdrant_client import QdrantClient, models

import explorekit as ek

_QC_DIST = {
    "cosine": models.Distance.COSINE,
    "dot": models.Distance.DOT,
    "euclid": models.Distance.EUCLID,
    "manhattan": models.Distance.MANHATTAN,
}
_QE_DIST = {
    "cosine": qe.Distance.Cosine,
    "dot": qe.Distance.Dot,
    "euclid": qe.Distance.Euclid,
    "manhattan": qe.Distance.Manhattan,
}


def _named(vectors) -> dict[str, np.ndarray]:
    return dict(vectors) if isinstance(vectors, Mapping) else {"": np.asarray(vectors, np.float32)}


class Trio:
    """One dataset in explorekit, qdrant-client local mode and qdrant-edge."""

    def __init__(
        self,
        vectors,
        ids=None,
        payload=None,
        distance="cosine",
        name=None,
        client: QdrantClient | None = None,
        edge: bool = True,
    ):
        self.vectors = {k: np.asarray(v, np.float32) for k, v in _named(vectors).items()}
        n = len(next(iter(self.vectors.values())))
        self.ids = list(range(n)) if ids is None else list(ids)
        self.payload = payload if payload is not None else [{} for _ in range(n)]
        self.distance = distance if isinstance(distance, Mapping) else {k: distance for k in self.vectors}
        self.name = name or f"c{uuid.uuid4().hex[:8]}"
        records = self.payload if isinstance(self.payload, list) else None
        self.col = ek.Collection.from_arrays(
            self.vectors if set(self.vectors) != {""} else self.vectors[""],
            ids=self.ids,
            payload=self.payload if records is None else records,
            distance=self.distance if set(self.vectors) != {""} else self.distance[""],
            name=self.name,
        )
        self.client = client or QdrantClient(":memory:")
        self._load_local()
        self.edge = self._load_edge() if edge else None

    # ---- loading
    def _points_payload(self):
        if isinstance(self.payload, pd.DataFrame):
            return [{k: v for k, v in row.items() if not _missing(v)} for row in self.payload.to_dict("records")]
        return self.payload

    def _load_local(self):
        if set(self.vectors) == {""}:
            config: Any = models.VectorParams(size=self.vectors[""].shape[1], distance=_QC_DIST[self.distance[""]])
        else:
            config = {
                k: models.VectorParams(size=v.shape[1], distance=_QC_DIST[self.distance[k]])
                for k, v in self.vectors.items()
            }
        self.client.create_collection(self.name, vectors_config=config)
        payloads = self._points_payload()
        points = []
        for i, pid in enumerate(self.ids):
            vec = (
                self.vectors[""][i].tolist()
                if set(self.vectors) == {""}
                else {k: v[i].tolist() for k, v in self.vectors.items()}
            )
            points.append(models.PointStruct(id=pid, vector=vec, payload=payloads[i]))
        if points:
            self.client.upsert(self.name, points=points)

    def _load_edge(self):
        self._edge_dir = tempfile.mkdtemp(prefix="edge-")
        if set(self.vectors) == {""}:
            vec_config: Any = qe.EdgeVectorParams(size=self.vectors[""].shape[1], distance=_QE_DIST[self.distance[""]])
        else:
            vec_config = {
                k: qe.EdgeVectorParams(size=v.shape[1], distance=_QE_DIST[self.distance[k]])
                for k, v in self.vectors.items()
            }
        shard = qe.EdgeShard.create(self._edge_dir, qe.EdgeConfig(vectors=vec_config))
        payloads = self._points_payload()
        points = []
        for i, pid in enumerate(self.ids):
            vec = (
                self.vectors[""][i].tolist()
                if set(self.vectors) == {""}
                else {k: v[i].tolist() for k, v in self.vectors.items()}
            )
            points.append(qe.Point(pid, vec, payloads[i]))
        if points:
            shard.update(qe.UpdateOperation.upsert_points(points))
        return shard

    # ---- explorekit
    def ek(self, kind: str, **kw) -> pd.DataFrame:
        return getattr(self.col, kind)(**kw)

    # ---- local mode
    def local(self, kind: str, *, lookup_client_name: str | None = None, **kw) -> list[tuple[Any, float]]:
        query = _local_query(kind, kw)
        lookup = kw.get("lookup_from")
        lf = None
        if lookup is not None:
            lf = models.LookupLocation(
                collection=lookup["collection"] if isinstance(lookup["collection"], str) else lookup["collection"].name,
                vector=lookup.get("vector"),
            )
        flt = kw.get("filter")
        res = self.client.query_points(
            self.name,
            query=query,
            using=kw.get("using") or None,
            query_filter=models.Filter(**flt) if isinstance(flt, dict) else flt,
            limit=kw.get("limit", 10),
            offset=kw.get("offset") or None,
            score_threshold=kw.get("score_threshold"),
            lookup_from=lf,
            with_payload=False,
        )
        return [(p.id, p.score) for p in res.points]

    # ---- edge
    def edge_query(self, kind: str, **kw) -> list[tuple[Any, float]]:
        using = kw.get("using") or None
        space = self.col._space(using)
        excluded: list[Any] = []

        def vec(x):
            if isinstance(x, (int, str)):
                excluded.append(x)
                return self.col.retrieve([x], with_vectors=True)[space.name or "vector"][0].tolist()
            return [float(v) for v in x]

        if kind == "search":
            q = qe.Query.Nearest(vec(kw["query"]), using=using)
        elif kind == "recommend":
            pos = [vec(x) for x in kw.get("positive", [])]
            neg = [vec(x) for x in kw.get("negative", [])]
            strategy = kw.get("strategy", "average_vector")
            if strategy == "average_vector":
                p = np.sum(np.asarray(pos, np.float32), axis=0, dtype=np.float32) / np.float32(len(pos))
                if neg:
                    n = np.sum(np.asarray(neg, np.float32), axis=0, dtype=np.float32) / np.float32(len(neg))
                    p = p + p - n
                q = qe.Query.Nearest(p.tolist(), using=using)
            elif strategy == "best_score":
                q = qe.Query.RecommendBestScore(qe.RecommendQuery(pos, neg), using=using)
            else:
                q = qe.Query.RecommendSumScores(qe.RecommendQuery(pos, neg), using=using)
        else:
            pairs = [qe.ContextPair(vec(_pos(p)), vec(_neg(p))) for p in kw.get("context", [])]
            if kw.get("target") is not None:
                q = qe.Query.Discover(qe.DiscoverQuery(vec(kw["target"]), pairs), using=using)
            else:
                q = qe.Query.Context(qe.ContextQuery(pairs), using=using)
        flt = edge_filter(kw.get("filter"))
        if excluded:
            ex = qe.HasIdCondition(set(excluded))
            flt = qe.Filter(must=[flt] if flt is not None else None, must_not=[ex])
        req = qe.QueryRequest(
            limit=kw.get("limit", 10),
            offset=kw.get("offset") or None,
            query=q,
            filter=flt,
            score_threshold=kw.get("score_threshold"),
            with_payload=False,
            with_vector=False,
        )
        return [(p.id, p.score) for p in self.edge.query(req)]


def _pos(pair):
    return pair["positive"] if isinstance(pair, dict) else pair[0]


def _neg(pair):
    return pair["negative"] if isinstance(pair, dict) else pair[1]


def _local_query(kind: str, kw: dict):
    if kind == "search":
        q = kw["query"]
        return q if isinstance(q, (int, str)) else models.NearestQuery(nearest=list(map(float, q)))
    if kind == "recommend":
        strategy = {
            "average_vector": models.RecommendStrategy.AVERAGE_VECTOR,
            "best_score": models.RecommendStrategy.BEST_SCORE,
            "sum_scores": models.RecommendStrategy.SUM_SCORES,
        }[kw.get("strategy", "average_vector")]
        return models.RecommendQuery(
            recommend=models.RecommendInput(
                positive=[_qc_ex(x) for x in kw.get("positive", [])],
                negative=[_qc_ex(x) for x in kw.get("negative", [])],
                strategy=strategy,
            )
        )
    pairs = [models.ContextPair(positive=_qc_ex(_pos(p)), negative=_qc_ex(_neg(p))) for p in kw.get("context", [])]
    if kw.get("target") is not None:
        return models.DiscoverQuery(discover=models.DiscoverInput(target=_qc_ex(kw["target"]), context=pairs))
    return models.ContextQuery(context=pairs)


def _qc_ex(x):
    return x if isinstance(x, (int, str)) else [float(v) for v in x]


def _missing(v) -> bool:
    try:
        return v is None or (isinstance(v, float) and math.isnan(v))
    except TypeError:
        return False


def edge_filter(flt):
    """A Qdrant filter dict as qdrant-edge objects (the subset the tests use)."""
    if flt is None:
        return None

    def cond(c):
        if "must" in c or "should" in c or "must_not" in c or "min_should" in c:
            return edge_filter(c)
        if "has_id" in c:
            return qe.HasIdCondition(set(c["has_id"]))
        if "is_empty" in c:
            return qe.IsEmptyCondition(c["is_empty"]["key"])
        if "is_null" in c:
            return qe.IsNullCondition(c["is_null"]["key"])
        if "nested" in c:
            return qe.NestedCondition(c["nested"]["key"], edge_filter(c["nested"]["filter"]))
        kwargs = {}
        if "match" in c:
            m = c["match"]
            if "value" in m:
                kwargs["match"] = qe.MatchValue(m["value"])
            elif "any" in m:
                kwargs["match"] = qe.MatchAny(m["any"])
            elif "except" in m:
                kwargs["match"] = qe.MatchExcept(m["except"])
            elif "text" in m:
                kwargs["match"] = qe.MatchText(m["text"])
        if "range" in c:
            kwargs["range"] = qe.RangeFloat(**c["range"])
        if "values_count" in c:
            kwargs["values_count"] = qe.ValuesCount(**c["values_count"])
        return qe.FieldCondition(c["key"], **kwargs)

    def many(key):
        return [cond(c) for c in flt[key]] if flt.get(key) is not None else None

    ms = flt.get("min_should")
    return qe.Filter(
        must=many("must"),
        should=many("should"),
        must_not=many("must_not"),
        min_should=qe.MinShould([cond(c) for c in ms["conditions"]], ms["min_count"]) if ms else None,
    )


def ids_scores(frame: pd.DataFrame) -> list[tuple[Any, float]]:
    return list(zip(frame["id"].tolist(), frame["score"].tolist()))


def assert_same(got, want, *, got_whole=None, want_whole=None, limit=None, rel=1e-5, abs_=2e-6, label="") -> int:
    """Same ids in the same order, except inside groups of equal scores, which compare as sets.

    Scores agree to ``rel``/``abs_``. Every group compares exactly as a set, the last one too,
    unless the limit cut it. ``got_whole``/``want_whole`` are each side's answer to the same
    request with a limit past every point (same offset and threshold): the limit cut the last
    group when a point after it there ties with it. Then each side may hold different members
    of that group, so each side's members must be members of the other side's whole group (of
    the one side given). Without either, ``limit`` (the page size asked for) tells whether the
    limit may have cut it: a page shorter than ``limit`` is whole, a full one may be cut and its
    last group is then not compared; without ``limit`` either, the answers are taken as whole.

    Returns how many of ``got``'s ids were compared (by order, as a set or as members).

    >>> assert_same([(1, 0.9), (2, 0.5), (3, 0.5)], [(1, 0.9), (3, 0.5), (2, 0.5)])
    3
    >>> cut = [(1, 0.9), (2, 0.5), (3, 0.5), (4, 0.5)]
    >>> assert_same([(1, 0.9), (2, 0.5)], [(1, 0.9), (4, 0.5)], want_whole=cut)
    2
    >>> assert_same([(1, 0.9), (2, 0.5)], [(1, 0.9), (4, 0.5)], limit=2)
    1
    """
    assert len(got) == len(want), f"{label}: {len(got)} results vs {len(want)}\n got={got}\nwant={want}"
    for (_gi, gs), (_wi, ws) in zip(got, want):
        assert math.isclose(gs, ws, rel_tol=rel, abs_tol=abs_), f"{label}: score {gs} vs {ws}\n got={got}\nwant={want}"
    groups_got, groups_want = _groups(got, rel, abs_), _groups(want, rel, abs_)
    assert len(groups_got) == len(groups_want), f"{label}: tie groups differ\n got={got}\nwant={want}"
    last = len(groups_got) - 1
    for k, (g, w) in enumerate(zip(groups_got, groups_want)):
        if k == last:
            break
        assert g == w, f"{label}: tied group {k} differs: {g} vs {w}\n got={got}\nwant={want}"
    if not got:
        return 0
    score = want[-1][1]
    whole_got = _tied_beyond(got, got_whole, score, rel, abs_)
    whole_want = _tied_beyond(want, want_whole, score, rel, abs_)
    g, w = groups_got[last], groups_want[last]
    if (
        whole_got is None
        and whole_want is None
        and got_whole is None
        and want_whole is None
        and limit is not None
        and len(got) >= limit
    ):  # may be cut, and nothing tells
        return len(got) - len(g)
    if whole_got is None and whole_want is None:  # the limit did not cut the last group
        assert g == w, f"{label}: last group differs: {g} vs {w}\n got={got}\nwant={want}"
    else:  # cut: any members of the group
        if whole_want is not None:
            assert g <= whole_want, (
                f"{label}: last group {g} has points outside the tied group {whole_want}\n got={got}\nwant={want}"
            )
        if whole_got is not None:
            assert w <= whole_got, (
                f"{label}: the reference's last group {w} has points outside "
                f"the tied group {whole_got}\n got={got}\nwant={want}"
            )
    return len(got)


def _tied_beyond(answer, whole, score: float, rel: float, abs_: float) -> set | None:
    """Every id of ``whole`` tied with ``score`` if a point past ``answer``'s end ties with it
    there (the limit cut that group), else None."""
    if whole is None or len(whole) <= len(answer):
        return None
    if not math.isclose(whole[len(answer)][1], score, rel_tol=rel, abs_tol=abs_):
        return None
    return {pid for pid, s in whole if math.isclose(s, score, rel_tol=rel, abs_tol=abs_)}


def _groups(pairs, rel, abs_):
    groups: list[set] = []
    last = None
    for pid, score in pairs:
        if last is None or not math.isclose(score, last, rel_tol=rel, abs_tol=abs_):
            groups.append(set())
        groups[-1].add(pid)
        last = score
    return groups


def reference_similarity(a, b, distance: str) -> np.ndarray:
    """Plain float64 numpy similarities (higher is closer), written independently of explorekit."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if distance == "cosine":
        a = a / np.linalg.norm(a, axis=-1, keepdims=True)
        b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    if distance in ("cosine", "dot"):
        return a @ b.T
    if distance == "euclid":
        return -((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    return -np.abs(a[:, None, :] - b[None, :, :]).sum(-1)
