"""Build the teaching notebooks from the Python sources below: ``python notebooks/_build.py``.

Each notebook is written here in the "percent" format: ``# %% [markdown]`` starts a Markdown
cell, ``# %%`` a code cell, ``# %% tags=["parameters"]`` a tagged code cell. The notebooks are
written without outputs (``make test`` executes them with nbclient and exports them to HTML).
Edit this file, not the .ipynb files, then run it again.

The first code cell of every notebook is tagged ``parameters``: the tests run the notebooks
with ``PROJECTION = "pca"`` (the default of every map, instant), so they never fit UMAP.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent

SETUP = """\
import explorekit as ek
ek.report.setup_notebook()      # figures also show when the notebook is exported to HTML"""

QUICKSTART = f"""
# %% [markdown]
# # 01 · Quickstart
#
# explorekit answers Qdrant's queries (search, recommend, discover) on vectors in your notebook,
# returns pandas DataFrames, and draws what happened. This notebook loads a bundled text set,
# searches it, recommends from examples, opens the Explorer and saves an offline report.
#
# Everything runs on your machine; no server and no network.

# %% tags=["parameters"]
PROJECTION = "pca"    # how the 2-D map is made: "pca" is instant; "umap" shows clusters (about 30 s the first time)

# %%
{SETUP}
ek.datasets.list()[["name", "rows", "dims", "description"]]

# %% [markdown]
# ## Load a collection
# `stdlib_docs` holds one vector per docstring of Python's standard library (6,041 of them,
# 384-d, embedded with all-MiniLM-L6-v2). `as_collection=True` gives an `ek.Collection`:
# ids, a vector per point, and the other columns as payload.

# %%
col = ek.datasets.load("stdlib_docs", as_collection=True)
col

# %%
col.payload[["module", "kind", "qualname", "first_line"]].head()

# %% [markdown]
# ## Search
# A query is a vector or the id of a stored point. With an id, that point is left out of the
# result, as in Qdrant. The answer is a DataFrame, best first: `id`, `score`, then the payload.

# %%
p = col.payload
json_dumps = p.index[(p.module == "json") & (p.qualname == "dumps")][0]
pickle_dumps = p.index[(p.module == "pickle") & (p.qualname == "dumps")][0]
os_remove = p.index[(p.module == "os") & (p.qualname == "remove")][0]

result = col.search(json_dumps, limit=5)
result[["id", "score", "module", "qualname", "first_line"]]

# %% [markdown]
# The request travels with the result, as the Qdrant `/points/query` body that returns the
# same answer from a Qdrant server: `col.query(body)` runs it here.

# %%
result.attrs["query"]

# %% [markdown]
# ## Filter on the payload
# A pandas query string, a Qdrant filter dict, or a boolean mask: the same three forms work
# in every query.

# %%
col.search(json_dumps, filter="kind == 'function' and module != 'json'", limit=5)[
    ["id", "score", "module", "qualname"]]

# %% [markdown]
# ## Recommend from examples
# Like `json.dumps` and `pickle.dumps`, unlike `os.remove`. `best_score` scores every point by
# its closest example; notebook 02 compares the strategies.

# %%
rec = col.recommend(positive=[json_dumps, pickle_dumps], negative=[os_remove], strategy="best_score", limit=8)
rec[["id", "score", "module", "qualname"]]

# %% [markdown]
# ## The map
# Each dot is a docstring, placed by a 2-D projection of the 384-d vectors. Hover for the text.
# The projection is computed once and kept on the collection. The colours are the first
# categorical payload field, here `kind` (`color=` picks another, `color=False` draws one colour);
# `clusters=True` labels the clusters of the collection (the subtitle says how they were found).

# %%
ek.plots.map(col, projection=PROJECTION, clusters=True, hover_data=["module", "qualname", "first_line"])

# %% [markdown]
# ## Why these results?
# Each recommended point is joined to the example that decided its score.

# %%
ek.plots.recommendation(col, rec, projection=PROJECTION, color="kind")

# %% [markdown]
# ## The Explorer
# Click points to make them positive or negative examples; the results table, the map overlay
# and the explanation follow. It needs a live kernel (JupyterLab, Notebook 7, VS Code): in a
# notebook exported to HTML this cell stays blank. The report below keeps its state instead.

# %%
explorer = ek.Explorer(col, projection=PROJECTION, hover=["module", "qualname"])  # clusters=True labels clusters
explorer

# %% [markdown]
# The Explorer is a view over the public API: its examples can be set from code, and its
# result is exactly what `col.recommend` returns.

# %%
explorer.examples = {{"positive": [json_dumps, pickle_dumps], "negative": [os_remove]}}
print("same as col.query(explorer.query):", col.query(explorer.query).equals(explorer.result))
explorer.result[["id", "score", "module", "qualname"]].head()

# %% [markdown]
# ## Save a report
# One HTML file that works offline. Click a point of its map: the panel lists the point's
# nearest neighbours with their scores, precomputed when the report is saved. Result tables
# keep their requests. The Explorer hands over its current state.

# %%
report = (ek.Report("Quickstart: the standard library as vectors")
          .add("A search, a recommendation and the map. **Click a point** for its neighbours.")
          .add(result, title="Nearest to json.dumps")
          .add(explorer, title="The Explorer's state", k=5, max_points=3000))
path = report.save("reports/01_quickstart.html")
path
"""

STRATEGIES = f"""
# %% [markdown]
# # 02 · Recommendation strategies
#
# `recommend(positive=..., negative=..., strategy=...)` has three strategies, as in Qdrant:
#
# * **average_vector**: one search near `2·avg(positives) − avg(negatives)`;
# * **best_score**: every point is scored by its closest example; when a negative is closer
#   than every positive the score goes below zero;
# * **sum_scores**: the sum of the similarities to the positives minus those to the negatives.
#
# We start on points in the plane, where you can see every distance.

# %% tags=["parameters"]
PROJECTION = "pca"    # the map of the 64-d digits at the end ("umap" shows clusters, slower)

# %%
{SETUP}
import pandas as pd
from explorekit import explain

fruit = ek.datasets.load("clusters2d", as_collection=True)
fruit.payload.groupby("fruit")[["x", "y"]].mean().round(1)

# %% [markdown]
# ## The same examples, three strategies
# Two apples and a pear as positives, a plum as the negative.

# %%
examples = dict(positive=[1, 2, 50], negative=[135])
results = {{s: fruit.recommend(**examples, strategy=s, limit=8)
           for s in ["average_vector", "best_score", "sum_scores"]}}
pd.concat({{s: r[["id", "score", "fruit"]] for s, r in results.items()}}, axis=1)

# %% [markdown]
# Scores do not compare across strategies. These vectors use the `euclid` distance, so
# average_vector, a plain search, returns the distance to its query vector (smaller first);
# best_score and sum_scores return Qdrant's recommendation scores (larger first).
#
# **average_vector** searches near one point, `2·avg(positives) − avg(negatives)`: here it lands
# beyond the apples, on the side away from the plum, and the results are the apples nearest it.

# %%
ek.plots.recommendation(fruit, results["average_vector"], color="fruit")

# %% [markdown]
# **best_score** keeps each example's own neighbourhood: results near the apples and near the pear.

# %%
ek.plots.recommendation(fruit, results["best_score"], color="fruit")

# %% [markdown]
# **sum_scores** adds every example's similarity, so a point must be near all the positives at once.

# %%
ek.plots.recommendation(fruit, results["sum_scores"], color="fruit")

# %% [markdown]
# ## Where a score comes from
# `explain` recomputes each result's score and splits it by example. `decides` marks the
# example that decided it (best_score), `contribution` adds up to the score.

# %%
why = explain.explain(fruit, results["best_score"])
why[why["rank"] < 3][["rank", "id", "score", "label", "similarity", "contribution", "decides"]]

# %% [markdown]
# ## Negatives only: outliers
# With only negative examples, `best_score` and `sum_scores` rank the points *least* like
# them first. Here: the points farthest from an apple, a lemon and a plum.
# (`average_vector` needs a positive, and says so.)

# %%
away = fruit.recommend(negative=[1, 175, 135], strategy="best_score", limit=6)
away[["id", "score", "fruit", "x", "y"]]

# %%
try:
    fruit.recommend(negative=[1, 175, 135])
except ek.ExploreError as err:
    print(err)

# %% [markdown]
# ## Named vectors
# A collection can keep several vectors per point. The digits have `pixels` (64-d, euclid) and
# `pca` (16-d, cosine). `using=` picks one; the same examples give different neighbours in each.
# Three handwritten nines as positives, the top 100 in each space:

# %%
digits = ek.datasets.load("digits", as_collection=True)
nines = digits.payload.index[digits.payload.digit == 9][:3].tolist()
top = {{using: digits.recommend(positive=nines, using=using, limit=100) for using in digits.vector_names}}
print("points in both top-100 lists:", len(set(top["pixels"]["id"]) & set(top["pca"]["id"])))
pd.DataFrame({{using: r["label"].value_counts() for using, r in top.items()}}).fillna(0).astype(int)

# %%
ek.plots.recommendation(digits, digits.recommend(positive=nines, using="pixels", limit=12),
                        projection=PROJECTION, color="label")

# %% [markdown]
# ## `lookup_from`: examples from another collection
# Keep queries apart from the library: split the digits, then recommend from the *library*
# with example ids that live in the *queries* collection.

# %%
data = ek.datasets.load("digits")
library = ek.Collection.from_dataframe(data.iloc[:1500], vectors={{"pca": "pca"}}, id="id", name="library")
queries = ek.Collection.from_dataframe(data.iloc[1500:], vectors={{"pca": "pca"}}, id="id", name="queries")
sevens = queries.payload.index[queries.payload.digit == 7][:2].tolist()
found = library.recommend(positive=sevens, using="pca",
                          lookup_from={{"collection": "queries", "vector": "pca"}}, limit=10)
found["digit"].value_counts()

# %% [markdown]
# The results with their thumbnails (a payload column of small PNG images):

# %%
from IPython.display import HTML

HTML(found[["id", "score", "digit", "thumbnail"]].to_html(
    escape=False, formatters={{"thumbnail": lambda uri: f'<img src="{{uri}}" width="32">'}}))
"""

DISCOVERY = f"""
# %% [markdown]
# # 03 · Discovery and context search, step by step
#
# **Discovery** takes a *target* and *context pairs* `(positive, negative)`. A point's rank is
# how many pairs it is on the positive side of (nearer the positive than the negative) minus
# how many it is not; points of equal rank are ordered by similarity to the target.
# **Context search** has pairs and no target: every point on the positive side of all pairs
# ties at score 0.
#
# In the plane, the positive side of a pair is a half-plane: so the zones can be drawn exactly.

# %% tags=["parameters"]
PROJECTION = "pca"    # the map of the text set at the end ("umap" shows clusters, slower)

# %%
{SETUP}
from explorekit import zones

fruit = ek.datasets.load("clusters2d", as_collection=True)
ek.plots.map(fruit)  # coloured by fruit, the first categorical field

# %% [markdown]
# ## One pair
# Target: a cherry (id 90). Context: an apple (id 1) is good, a lemon (id 175) is not. The line
# is where the apple and the lemon are equally near; the results are the points nearest the
# cherry on the apple's side.

# %%
one = fruit.discover(target=90, context=[(1, 175)], limit=8)
ek.plots.discovery(fruit, one)

# %% [markdown]
# The zone of every point, computed in the full vector space: `rank` is +1 on the apple's side,
# −1 on the lemon's.

# %%
z = zones.points(fruit, one)
z.join(fruit.payload["fruit"], on="id").groupby(["rank", "fruit"]).size().unstack(fill_value=0)

# %% [markdown]
# ## Two pairs
# Add: a plum (135) is good, an orange (255) is not. Now ranks run from −2 to +2; only the
# zone on the good side of both lines has rank +2, and the results come from there first.

# %%
two = fruit.discover(target=90, context=[(1, 175), (135, 255)], limit=8)
ek.plots.discovery(fruit, two)

# %% [markdown]
# ## Three pairs
# Add: a pear (50) is good, a lime (220) is not. Each pair cuts the plane once more.

# %%
pairs = [(1, 175), (135, 255), (50, 220)]
three = fruit.discover(target=90, context=pairs, limit=8)
ek.plots.discovery(fruit, three)

# %%
three[["id", "score", "fruit"]]

# %% [markdown]
# ## Context search: no target
# The same pairs without a target. A point's *loss* is 0 on the good side of every pair and
# grows more negative the further it is on a wrong side. All zero-loss points tie at the top:
# context search finds a region, not a ranking.

# %%
region = fruit.discover(context=pairs, limit=20)
ek.plots.context(fruit, region)

# %%
region["score"].value_counts().head()

# %% [markdown]
# ## On text
# The same query on the standard-library docstrings: near `json.dumps`, on the side of
# `pickle.dumps` rather than `os.remove`, and of `csv.writer` rather than `socket.socket`.
# In 384 dimensions the zones cannot be drawn as regions; the points are coloured by rank.

# %%
docs = ek.datasets.load("stdlib_docs", as_collection=True)
p = docs.payload
def find(module, qualname):
    return p.index[(p.module == module) & (p.qualname == qualname)][0]

text_pairs = [(find("pickle", "dumps"), find("os", "remove")), (find("csv", "writer"), find("socket", "socket"))]
text = docs.discover(target=find("json", "dumps"), context=text_pairs, limit=8)
text[["id", "score", "module", "qualname"]]

# %%
ek.plots.discovery(docs, text, projection=PROJECTION)
"""

QUANTIZATION = f"""
# %% [markdown]
# # 04 · Quantization and rescoring: memory against recall
#
# Qdrant can keep compressed copies of the vectors and search those: **scalar** (int8, 4× smaller),
# **binary** (1 bit per dimension, 32×) and **product** quantization (x4 … x64). The answers
# change: the compressed scores rank points a little differently. Two knobs win recall back:
# **oversampling** (take `oversampling × limit` candidates by compressed score) and
# **rescoring** (re-rank those candidates with the original vectors).
#
# explorekit implements the same steps, with the exact search as the ground truth.

# %% tags=["parameters"]
PROJECTION = "pca"    # not used for maps here; kept so every notebook takes the same parameter

# %%
{SETUP}
import numpy as np
import pandas as pd
import plotly.express as px
from explorekit import rescoring

CONFIGS = {{
    "scalar int8": {{"scalar": {{"type": "int8", "quantile": 0.99}}}},
    "binary": {{"binary": {{}}}},
    "product x32": {{"product": {{"compression": "x32"}}}},
}}
cols = {{name: ek.datasets.load("stdlib_docs", as_collection=True).quantize(config)
        for name, config in CONFIGS.items()}}
memory = pd.concat({{name: c.memory_usage() for name, c in cols.items()}})
memory[["original_bytes", "quantized_bytes", "compression"]]

# %% [markdown]
# ## Recall of compressed search
# 100 queries (stored points, searched by id). For each method, recall@10 against the
# exact search, with and without rescoring, at oversampling 1, 2 and 4.

# %%
rng = np.random.default_rng(0)
ids = rng.choice(np.asarray(cols["binary"].ids), size=100, replace=False)
requests = [{{"query": int(i)}} for i in ids]
recall = pd.concat([rescoring.recall_by_oversampling(c, requests, oversampling=(1, 2, 4)).assign(method=name)
                    for name, c in cols.items()], ignore_index=True)
recall.pivot_table(index=["method", "rescore"], columns="oversampling", values="recall").round(3)

# %%
ek.plots.recall_curve(recall, group=["method", "rescore"], title="recall@10 against oversampling")

# %% [markdown]
# ## Memory against recall
# Each method at oversampling 2 with rescoring: how many bytes per vector, how much recall.

# %%
best = recall[(recall.oversampling == 2) & recall.rescore].set_index("method")["recall"]
points = pd.DataFrame({{"method": best.index, "recall@10": best.values,
                       "bytes per vector": [memory.loc[(m, ""), "quantized_bytes"] / len(cols[m]) for m in best.index]}})
original = memory.loc[(best.index[0], ""), "original_bytes"] / len(cols[best.index[0]])   # the reference
points.loc[len(points)] = ["float32 (original)", 1.0, original]    # the exact search: recall 1 by definition
fig = px.scatter(points, x="bytes per vector", y="recall@10", text="method", log_x=True, template="plotly_white",
                 title="Memory against recall (oversampling 2, rescored), against the original float32 vectors")
fig.update_traces(marker_size=14, textposition="middle right")
fig.update_xaxes(range=[np.log10(24), np.log10(8000)], tickvals=[32, 64, 128, 256, 512, 1024, 1536])
fig.update_yaxes(range=[min(0.9, points["recall@10"].min() - 0.02), 1.01])

# %% [markdown]
# ## One query, step by step
# Binary quantization, one query, limit 10, oversampling 3: 30 candidates by compressed score,
# re-ranked with the original vectors. Each line is a point: its rank by compressed score, after
# rescoring, and in the exact search. **Rescued** points were returned only thanks to rescoring;
# **lost** points are in the exact top 10 but not among the candidates.

# %%
step = rescoring.rescoring_effect(cols["binary"], "search", query=int(ids[0]), limit=10, oversampling=3,
                                  with_payload=["qualname"])
ek.plots.rescoring(step, label="qualname")

# %%
step.attrs["recall_without_rescore"], step.attrs["recall_with_rescore"]

# %% [markdown]
# ## The same, as a query parameter
# These are Qdrant's own `params`: the result equals the last step above.

# %%
cols["binary"].search(int(ids[0]), limit=10,
                      params={{"quantization": {{"rescore": True, "oversampling": 3.0}}}})[["id", "score", "qualname"]]
"""

QDRANT = f"""
# %% [markdown]
# # 05 · When the data outgrows one machine: Qdrant
#
# A notebook process holds a few million vectors at most. Past that, put them in Qdrant and keep
# the same calls: `ek.connect(...)["name"]` has the query API of a local collection and returns
# the same DataFrames. This notebook uses a Qdrant server when `QDRANT_URL` is set, and
# qdrant-client's local mode (in this process, no server) otherwise.

# %% tags=["parameters"]
PROJECTION = "pca"    # how the map of the server's sample is made ("umap" shows clusters, slower)

# %%
{SETUP}
import os
import warnings
import pandas as pd

# local mode always searches exactly, and says so on every query that sets params: not needed here
warnings.filterwarnings("ignore", message="Local mode performs exact", category=UserWarning)
url = os.environ.get("QDRANT_URL")
conn = ek.connect(url=url, api_key=os.environ.get("QDRANT_API_KEY")) if url else ek.connect(":memory:")
conn

# %% [markdown]
# ## Upload a collection
# Ids, vectors and payload go up in batches; the collection is created with the same distance.

# %%
local = ek.datasets.load("stdlib_docs", as_collection=True)
remote = conn.upload(local, "stdlib_docs", progress=False)
remote

# %% [markdown]
# ## The same calls, the same answers
# Queries are checked by the same code as locally, then sent to Qdrant's Query API.

# %%
p = local.payload
json_dumps = p.index[(p.module == "json") & (p.qualname == "dumps")][0]
os_remove = p.index[(p.module == "os") & (p.qualname == "remove")][0]
kwargs = dict(positive=[json_dumps], negative=[os_remove], strategy="best_score", limit=5,
              params={{"exact": True}}, with_payload=["module", "qualname"])
pd.concat({{"local": local.recommend(**kwargs), "qdrant": remote.recommend(**kwargs)}}, axis=1)

# %% [markdown]
# Filters work the same (a pandas query is translated to a Qdrant filter), and the request in
# `attrs["query"]` is the body Qdrant's REST API takes.

# %%
hits = remote.search(json_dumps, filter="kind == 'function'", limit=5, with_payload=["module", "qualname"])
hits.attrs["query"]

# %% [markdown]
# ## Maps of a big collection: a sample
# Drawing millions of points helps nobody. `sample(limit=...)` brings a random sample back as a local
# collection: map it, and run the queries on the server.

# %%
sample = remote.sample(limit=2000)
ek.plots.map(sample, projection=PROJECTION, title="2,000 points sampled by the server")

# %% [markdown]
# ## The Explorer on the server
# The Explorer maps a sample and sends every query to Qdrant.

# %%
explorer = ek.Explorer(remote, projection=PROJECTION)
explorer

# %% [markdown]
# ## A report from the server
# The neighbours the report shows on click are the server's answers: one search per point, sent
# as one batch. qdrant-client's local mode searches by brute force in Python, so this notebook
# precomputes them for 100 points only; a Qdrant server answers thousands in a second.

# %%
report = (ek.Report("Qdrant: the standard library")
          .add("Results and neighbours computed by Qdrant.")
          .add(hits, title="Functions near json.dumps")
          .add(ek.plots.map(sample, projection=PROJECTION), collection=remote, k=5, max_points=100))
report.save("reports/05_qdrant.html")

# %% [markdown]
# ## And back
# `to_collection` brings points back as a local collection: all of them, a filtered part or a sample.

# %%
functions = conn["stdlib_docs"].to_collection(filter="kind == 'function'")
functions
"""

BIG_PICTURE = f"""
# %% [markdown]
# # 06 · The big picture: the whole collection at once
#
# The other notebooks ask one question at a time. This one asks "what is in here?", with the
# tools Qdrant gives for it (its 1.12 release and its article on distance-based data
# exploration): **facets** count payload values, **random samples** pick points without bias, the
# **distance matrix** gives each sampled point its nearest neighbours among the sample, and from
# that matrix come a **map**, **clusters** and the Web UI's **graph** of neighbours. Every call
# here also works on a Qdrant collection (`ek.connect(...)["name"]`), where the server does the work.

# %% tags=["parameters"]
PROJECTION = "umap"   # "umap": maps from the distance matrix and from the vectors (about 40 s the first time); "pca" is instant

# %%
{SETUP}
SAMPLE = 1000         # points in the distance matrix
col = ek.datasets.load("stdlib_docs", as_collection=True)
col

# %% [markdown]
# ## Facets: how many points hold each value
# `col.facet(key)` is Qdrant's Facet API: counts per payload value, largest first. An array
# counts each of its values once per point; a filter narrows the points counted.

# %%
col.facet("kind")

# %%
col.facet("tags", filter="kind == 'function'", limit=8)

# %% [markdown]
# ## Random samples
# `col.sample(n)` draws points at random (Qdrant's `{{"sample": "random"}}` query), after the
# filter; a seed makes it repeatable.

# %%
col.sample(5, filter="module == 'json'", seed=0)[["id", "module", "qualname", "first_line"]]

# %% [markdown]
# ## The distance matrix
# `col.distance_matrix(sample, limit)` picks `sample` points at random and gives each its `limit`
# nearest *among the sample* (never itself). As pairs it is a table `a`, `b`, `score`:

# %%
col.distance_matrix(sample=6, limit=2, seed=0)

# %% [markdown]
# As offsets it is a sparse matrix (row and column `i` are the point `ids[i]`): a few numbers
# per point instead of all its vectors. On a server this is the cheap way to see a big
# collection: only the matrix travels.

# %%
matrix, ids = col.distance_matrix(sample=SAMPLE, limit=15, format="offsets", seed=0)
matrix

# %% [markdown]
# ## Clusters, and what sets each apart
# `ek.analysis.clusters` clusters that matrix with HDBSCAN (scikit-learn, the matrix as
# precomputed distances: `1 - score` for cosine). Each cluster gets its most central point
# (the medoid along the matrix's edges) and the payload values it holds more often than the
# sample does: facet counts inside the cluster against the sample's, as a `share` of the cluster
# and a `lift` (how many times more common). Points in no dense group are noise (`-1`).

# %%
found = ek.analysis.clusters(col, sample=SAMPLE, limit=15, seed=0)
found.summary.head(10)

# %%
top = found.summary["cluster"][0]
found.values[found.values["cluster"] == top]

# %% [markdown]
# The medoid is a real point: read it to see what the cluster is about.

# %%
col.retrieve(found.summary["medoid"].head(5).tolist())[["id", "module", "qualname", "first_line"]]

# %% [markdown]
# ## Maps: from the vectors, and from the matrix alone
# The map of the vectors, coloured by cluster: each cluster's label sits at the middle of its
# points. Clusters found from a few neighbours per point land together on a map made from all
# the numbers of every vector.

# %%
ek.plots.map(col, projection=PROJECTION, clusters=found)

# %% [markdown]
# A map needs no vectors: `ek.projection.project(col, from_matrix=True)` runs UMAP with
# `metric="precomputed"` on the same sparse matrix (on a Qdrant collection, the server's). It
# maps the sample only. (With `PROJECTION = "pca"` this cell is skipped: UMAP's first run takes
# a while.)

# %%
if PROJECTION == "umap":
    import plotly.express as px

    from_matrix = ek.projection.project(col, from_matrix=True, sample=SAMPLE, seed=0)
    shown = from_matrix.merge(found.labels, on="id")
    shown["cluster"] = shown["cluster"].map(lambda c: "noise" if c < 0 else str(c))
    colours = px.colors.qualitative.D3 + px.colors.qualitative.Pastel   # the cluster map's colours
    fig = px.scatter(shown, x="x", y="y", color="cluster", hover_data=["id"],
                     category_orders={{"cluster": [str(c) for c in found.summary["cluster"]] + ["noise"]}},
                     color_discrete_map={{"noise": "lightgrey", **{{str(c): colours[c % len(colours)] for c in found.summary["cluster"]}}}},
                     title=f"UMAP of the distance matrix of {{SAMPLE:,}} points (no vectors used)")
else:
    fig = "Set PROJECTION = 'umap' to map the distance matrix."
fig

# %% [markdown]
# ## The graph of neighbours
# Qdrant's Web UI draws a point, its nearest neighbours and theirs as a graph.
# `ek.plots.graph` does the same: edges go from a point to its `limit` nearest, wider and darker
# when closer. Here it starts at the medoid of the largest cluster.

# %%
start = found.summary["medoid"][0]
graph = ek.plots.graph(col, start=start, limit=3, depth=2, label="qualname")
graph

# %% [markdown]
# The numbers behind the figure are two frames (`ek.analysis.neighbour_graph`): nodes with
# their depth, and directed edges with the collection's own scores. In the Explorer's graph
# tab a click on a node expands it, or adds it as an example.

# %%
nodes, edges = ek.analysis.neighbour_graph(col, start, limit=3, depth=2)
edges.head(6)

# %% [markdown]
# ## A report that keeps it all
# In the saved page a click on a map point or a graph node lists its nearest neighbours.

# %%
report = (ek.Report("The big picture: the standard library")
          .add(found.summary.drop(columns="values"), title="Clusters")
          .add(ek.plots.map(col, projection=PROJECTION, clusters=found), collection=col, max_points=300)
          .add(graph, collection=col))
report.save("reports/06_the_big_picture.html")
"""

MULTI_STAGE = """
# %% [markdown]
# # 07 · Multi-stage queries: prefetch, rescoring, fusion, boosts and diversity
#
# Qdrant's Query API answers in **stages**: `prefetch` stages find candidates cheaply, and the
# final `query` re-scores only those, with another vector, a **fusion** of several candidate
# lists (RRF, DBSF), a **formula** over payload values (score boosting) or **MMR** (diverse
# results). `col.query(body)` takes the same bodies and gives the same answers; every answer
# keeps each stage's candidates, and `ek.analysis.stages` / `ek.plots.stages` show where each
# result came from.

# %% tags=["parameters"]
PROJECTION = "umap"   # not used for maps here; kept so every notebook takes the same parameter

# %%
{SETUP}
import re
import zlib

import numpy as np
import pandas as pd
from explorekit.query.stage_bodies import boost_body

docs = ek.datasets.load("stdlib_docs", as_collection=True)
full = np.asarray(docs.vectors(), dtype=np.float32)  # 384-d MiniLM, one per docstring

# %% [markdown]
# ## Three named vectors for the same points
# * `full`: the 384-d embedding;
# * `small`: its first 64 dimensions, renormalised (a matryoshka-style short vector: 6x smaller,
#   cheaper to search, less precise);
# * `words`: a 256-d bag of hashed words of the docstring: a lexical view, for hybrid search.

# %%
small = full[:, :64] / np.linalg.norm(full[:, :64], axis=1, keepdims=True)


def words(text, dims=256):
    v = np.zeros(dims, np.float32)
    for word in re.findall(r"[a-z]{3,}", text.lower()):
        v[zlib.crc32(word.encode()) % dims] += 1
    return v / max(float(np.linalg.norm(v)), 1e-9)


lexical = np.stack([words(t) for t in docs.payload["text"]])
col = ek.Collection.from_arrays({"full": full, "small": small, "words": lexical},
                                ids=list(docs.ids), payload=docs.payload, distance="cosine")
p = col.payload
json_dumps = int(p.index[(p.module == "json") & (p.qualname == "dumps")][0])
col

# %% [markdown]
# ## Two-stage rescoring: 64 dimensions first, then all 384
# The prefetch searches the short vectors for 100 candidates; the final query re-scores only
# those with the full vectors. Recall@10 against one exact search of the full vectors:

# %%
body = {"prefetch": [{"query": json_dumps, "using": "small", "limit": 100}],
        "query": json_dumps, "using": "full", "limit": 10}
two_stage = col.query(body)
exact = col.search(json_dumps, using="full", limit=10)
print(f"recall@10 of the two-stage query: {len(set(two_stage.id) & set(exact.id)) / 10:.0%}")
two_stage[["id", "score", "module", "qualname"]]

# %% [markdown]
# Where did the ten come from? Each line is a candidate: its rank among the 64-d candidates
# (left) and in the final answer (right). Green lines were promoted by the full vectors,
# orange ones demoted; grey candidates were not returned. Hover for the payload.

# %%
ek.plots.stages(two_stage, col, label="qualname", k=40)

# %% [markdown]
# The same as a table: one row per stage and candidate (`rank_change` > 0: promoted).

# %%
moves = ek.analysis.stages(two_stage, col)
moves[moves.stage == "query"][["id", "rank", "source_rank", "rank_change", "score", "source_score"]]

# %% [markdown]
# ## Or binary first, then float
# The same idea with Qdrant's binary quantization (1 bit per dimension): the prefetch ranks by
# the binary codes only (`rescore: False`), the final query re-scores its 50 candidates with the
# float vectors. Recall@10 of the binary ranking alone, and of the two stages:

# %%
binary = ek.Collection.from_arrays({"full": full}, ids=list(docs.ids), payload=docs.payload,
                                   distance="cosine").quantize({"binary": {}}, using="full")
codes_only = {"quantization": {"rescore": False}}
binary_then_float = binary.query({"prefetch": [{"query": json_dumps, "using": "full", "limit": 50, "params": codes_only}],
                                  "query": json_dumps, "using": "full", "limit": 10})
binary_only = binary.search(json_dumps, using="full", limit=10, params=codes_only)
print(f"binary only: {len(set(binary_only.id) & set(exact.id)) / 10:.0%}, "
      f"binary then float: {len(set(binary_then_float.id) & set(exact.id)) / 10:.0%}")
ek.plots.stages(binary_then_float, binary, label="qualname", title="Binary codes first, float vectors second")

# %% [markdown]
# ## Hybrid search: fusing two named vectors
# One prefetch per vector (meaning: `full`, words: `words`), fused by **RRF** (reciprocal rank
# fusion: each list gives `1 / (rank + k)`, Qdrant's k = 2) or **DBSF** (each list's scores
# normalised by mean ± 3 standard deviations, then summed). The `from ...` columns say what
# each list gave every result.

# %%
hybrid = {"prefetch": [{"query": json_dumps, "using": "full", "limit": 20},
                       {"query": json_dumps, "using": "words", "limit": 20}],
          "limit": 10}
rrf = col.query({**hybrid, "query": {"fusion": "rrf"}})
fused = ek.analysis.stages(rrf)
fused[fused.stage == "query"][["id", "score", "from prefetch[0]", "from prefetch[1]", "sources"]].assign(
    qualname=rrf["qualname"].values)

# %%
ek.plots.stages(rrf, col, label="qualname", title="RRF of meaning (prefetch[0]) and words (prefetch[1])")

# %%
dbsf = col.query({**hybrid, "query": {"fusion": "dbsf"}})
ek.plots.stages(dbsf, col, label="qualname", title="DBSF of meaning (prefetch[0]) and words (prefetch[1])")

# %% [markdown]
# ## A payload boost: well-documented first, deprecated last
# A formula re-scores the candidates with payload values: here the similarity, plus a little
# for long docstrings (`ln(1 + doc_length)`), minus 0.3 for deprecated functions. The stage
# table lists each term per candidate, and the chart's hover shows them.

# %%
boosted = col.query({
    "prefetch": [{"query": json_dumps, "using": "full", "limit": 50}],
    "query": {"formula": {"sum": ["$score",
                                  {"mult": [0.03, {"ln": {"sum": [1, "doc_length"]}}]},
                                  {"mult": [-0.3, {"key": "deprecated", "match": {"value": True}}]}]},
              "defaults": {"doc_length": 0}},
    "limit": 10})
terms = ek.analysis.stages(boosted, col)
terms[terms.stage == "query"].filter(regex="^(id|rank|source_rank|score|term .*)$").assign(
    qualname=boosted["qualname"].values)

# %%
ek.plots.stages(boosted, col, label="qualname", k=30)

# %% [markdown]
# The Explorer's "boost by" control builds the simplest such body, `$score + weight * field`,
# over a prefetch of 4 × limit candidates:

# %%
boost_body({"query": {"nearest": json_dumps}, "using": "full", "limit": 10}, "n_params", 0.05)

# %% [markdown]
# ## Diverse results: MMR against plain nearest
# The nearest docstrings of `json.dumps` are nearly all from `json`. MMR (maximal marginal
# relevance) picks each next result for its similarity to the query minus its similarity to
# the results already picked: `diversity` 0 is plain relevance, 1 only diversity.

# %%
plain = col.query({"query": json_dumps, "using": "full", "limit": 10})
diverse = col.query({"query": {"nearest": json_dumps, "mmr": {"diversity": 0.6, "candidates_limit": 100}},
                     "using": "full", "limit": 10})
pd.DataFrame({"nearest": plain["module"].value_counts(), "MMR 0.6": diverse["module"].value_counts()}).fillna(0)

# %% [markdown]
# The chart starts from the plain nearest order of the picked points (left) and ends at the
# MMR order (right): what diversity moved, and by how much.

# %%
ek.plots.stages(diverse, col, label="qualname")
""".replace("{SETUP}", SETUP)

NOTEBOOKS = {
    "01_quickstart.ipynb": QUICKSTART,
    "02_recommendation_strategies.ipynb": STRATEGIES,
    "03_discovery_and_context.ipynb": DISCOVERY,
    "04_quantization_and_rescoring.ipynb": QUANTIZATION,
    "05_qdrant.ipynb": QDRANT,
    "06_the_big_picture.ipynb": BIG_PICTURE,
    "07_multi_stage_queries.ipynb": MULTI_STAGE,
}

_HEADER = re.compile(r"^# %%(?: \[(?P<kind>markdown)\])?(?: tags=(?P<tags>\[.*\]))?\s*$")


def cells(source: str) -> list[nbformat.NotebookNode]:
    """Percent-format source -> notebook cells (no outputs)."""
    out: list[nbformat.NotebookNode] = []
    kind, tags, lines = None, [], []

    def flush() -> None:
        if kind is None:
            return
        text = "\n".join(lines).strip("\n")
        if kind == "markdown":
            text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in text.splitlines())
            out.append(nbformat.v4.new_markdown_cell(text))
        else:
            cell = nbformat.v4.new_code_cell(text)
            if tags:
                cell.metadata["tags"] = tags
            out.append(cell)

    for line in source.strip("\n").splitlines():
        m = _HEADER.match(line)
        if m:
            flush()
            kind = m.group("kind") or "code"
            tags = json.loads(m.group("tags")) if m.group("tags") else []
            lines = []
        else:
            lines.append(line)
    flush()
    return out


def notebook(source: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = cells(source)
    for i, cell in enumerate(nb.cells):  # stable ids, so rebuilding gives the same files
        cell["id"] = f"cell-{i:02d}"
    return nb


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, source in NOTEBOOKS.items():
        path = HERE / name
        text = nbformat.writes(notebook(source)) + "\n"
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
            print(path)
    if stale:
        print(f"out of date (run python notebooks/_build.py): {stale}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
