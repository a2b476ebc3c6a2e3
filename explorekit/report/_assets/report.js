/* explorekit report: draws the figures and keeps exploration alive without a kernel.
 *
 * Each figure's spec is a JSON script element next to its div: {"figure": plotly
 * JSON, "explore": null | {ids, xy, neighbours, labels, images, categories, label_field,
 * category_field, k, distance, note}}. Clicking a point of a map (or a row of a result table, or
 * a hit of the search box above the map) shows the point's precomputed neighbours with their
 * scores in the side panel and rings them on the map. Nothing here touches the network.
 * Labels are user data: they reach the page as text (textContent, or esc() in markup), never
 * as markup or code.
 * A point is named everywhere by its key (explorekit.report._neighbours.point_key): "5" for the
 * integer id 5, "s:5" for the string "5", "u:..." for a UUID; an element that shows a point
 * carries data-key (what lookups use) and data-id (the id as shown).
 * window.__ekReport = {figures, rendered, errors, selected} is what the browser tests read.
 * Search (findHits): hits whose label starts with the typed text first, then those that contain
 * it anywhere, case-insensitive, each group in the map's order; an id typed in full comes first.
 */
(function () {
  "use strict";
  var state = (window.__ekReport = { figures: 0, rendered: 0, errors: [], selected: null });
  window.addEventListener("error", function (e) { state.errors.push(String(e.message || e)); });
  var maps = [];
  var panel = document.getElementById("ek-panel");

  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function shownId(key) {
    return /^[su]:/.test(key) ? key.slice(2) : key;
  }
  // formatScore: begin (the same strings as explorekit.query.display.format_score; tests run both)
  function formatScore(score) {
    if (typeof score !== "number") return String(score);
    if (isNaN(score)) return "nan";
    if (!isFinite(score)) return score > 0 ? "inf" : "-inf";
    if (score === 0) return "0";
    var parts = Math.abs(score).toExponential(3).split("e"); // rounded once, half away from zero
    var digits = parts[0].replace(".", "").replace(/0+$/, "") || "0";
    var exponent = Number(parts[1]), minus = score < 0 ? "-" : "";
    if (exponent < -4 || exponent >= 4) {
      var mantissa = digits.length > 1 ? digits[0] + "." + digits.slice(1) : digits;
      var size = String(Math.abs(exponent));
      return minus + mantissa + "e" + (exponent < 0 ? "-" : "+") + (size.length < 2 ? "0" + size : size);
    }
    if (exponent < 0) return minus + "0." + "0".repeat(-exponent - 1) + digits;
    var whole = digits.slice(0, exponent + 1), fraction = digits.slice(exponent + 1);
    while (whole.length < exponent + 1) whole += "0";
    return minus + whole + (fraction ? "." + fraction : "");
  }
  // formatScore: end
  var fmt = formatScore;
  function label(ex, key) {
    var text = ex.labels[key];
    return text ? text : "id " + shownId(key);
  }
  function category(ex, key) {
    var value = ex.categories && ex.categories[key];
    return value ? '<span class="ek-cat" title="' + esc(ex.category_field) + '">' + esc(value) + "</span>" : "";
  }
  function thumb(ex, key) {
    var src = ex.images[key];
    return src ? '<img class="ek-thumb" alt="" src="' + esc(src) + '">' : "";
  }

  function highlight(entry, key) {
    var ex = entry.ex, xs = [], ys = [], sizes = [], colours = [], widths = [], texts = [];
    var add = function (pkey, size, colour, width, text) {
      var p = ex.xy[pkey];
      if (!p) return;
      xs.push(p[0]); ys.push(p[1]); sizes.push(size); colours.push(colour); widths.push(width); texts.push(text);
    };
    add(key, 22, "#111111", 3.5, "");
    (ex.neighbours[key] || []).forEach(function (n, i) { add(n[0], 16, "#d62728", 2.5, String(i + 1)); });
    var axes = entry.axes[key] || ["x", "y"];
    return Plotly.restyle(entry.div, {
      x: [xs], y: [ys], text: [texts], "marker.size": [sizes], "marker.line.color": [colours],
      "marker.line.width": [widths],
      xaxis: axes[0], yaxis: axes[1]
    }, [entry.hl]);
  }

  function showPanel(entry, key) {
    var ex = entry.ex, rows = ex.neighbours[key];
    var title = entry.div.getAttribute("data-title") || "map";
    var named = ex.labels[key] ? '<span class="ek-panel-label" title="' + esc(ex.label_field) + '">' +
      esc(ex.labels[key]) + "</span> " +
      '<span class="ek-panel-pid">(' + esc(shownId(key)) + ")</span>"
      : '<span class="ek-panel-label">id ' + esc(shownId(key)) + "</span>";
    var html = '<header><h2 class="ek-panel-title">' + named + "</h2>" +
      '<button type="button" class="ek-close" aria-label="Close">\u00d7</button></header>' +
      '<p class="ek-panel-id">' + thumb(ex, key) + "id <code>" + esc(shownId(key)) + "</code>" +
      (ex.categories && ex.categories[key] ? " \u00b7 " + esc(ex.category_field) + " " + category(ex, key) : "") +
      " \u00b7 " + esc(title) + "</p>";
    if (!rows) {
      html += '<p class="ek-missing">Neighbours of this point were not precomputed: the report covers ' +
        ex.computed + " of the " + ex.shown + " points on this map (raise max_points= when adding it).</p>";
    } else {
      var scoreName = ex.distance === "euclid" || ex.distance === "manhattan" ? "distance" : "score";
      html += '<p class="ek-panel-help">' + rows.length + " nearest by exact " + esc(ex.distance) + " " +
        scoreName + (ex.using ? " of vector <code>" + esc(ex.using) + "</code>" : "") +
        ", computed when the report was saved.</p><ol class=\"ek-neighbours\">";
      rows.forEach(function (n) {
        html += '<li tabindex="0" data-key="' + esc(n[0]) + '" data-id="' + esc(shownId(n[0])) + '">' +
          '<span class="ek-score" title="' + scoreName + '">' + esc(fmt(n[1])) + "</span>" + thumb(ex, n[0]) +
          '<span class="ek-label">' + esc(label(ex, n[0])) + '</span> <span class="ek-nid">' +
          esc(shownId(n[0])) + "</span> " + category(ex, n[0]) + "</li>";
      });
      html += "</ol>";
    }
    panel.innerHTML = html;
    panel.hidden = false;
    panel.setAttribute("data-key", key);
    panel.setAttribute("data-id", shownId(key));
    document.body.classList.add("ek-panel-open");
    panel.querySelector(".ek-close").addEventListener("click", function () {
      panel.hidden = true;
      panel.removeAttribute("data-key");
      panel.removeAttribute("data-id");
      document.body.classList.remove("ek-panel-open");
      resizeAll();
    });
    Array.prototype.forEach.call(panel.querySelectorAll(".ek-neighbours li"), function (li) {
      var go = function () { select(entry, li.getAttribute("data-key")); };
      li.addEventListener("click", go);
      li.addEventListener("keydown", function (e) { if (e.key === "Enter") go(); });
    });
  }

  // ------------------------------------------------------------------ search box
  var MAX_HITS = 8;

  /* The points of a map as the search box sees them: [{key, id, label, lower, category}], in
   * the order the map shows them, each once. */
  function searchIndex(ex) {
    var seen = {}, points = [];
    ex.ids.forEach(function (keys) {
      (keys || []).forEach(function (key) {
        if (seen[key]) return;
        seen[key] = true;
        var text = ex.labels[key] || "";
        points.push({ key: key, id: shownId(key), label: text, lower: text.toLowerCase(),
                      category: (ex.categories && ex.categories[key]) || "" });
      });
    });
    return points;
  }

  /* {hits: the first MAX_HITS matches, total: how many match}: an id typed in full, then labels
   * that start with the text, then labels that contain it (case-insensitive). */
  function findHits(points, typed) {
    var needle = typed.trim().toLowerCase();
    if (!needle) return { hits: [], total: 0 };
    var exact = [], prefix = [], inside = [];
    points.forEach(function (p) {
      var at = p.lower.indexOf(needle);
      if (p.id.toLowerCase() === needle) exact.push(p);
      else if (at === 0) prefix.push(p);
      else if (at > 0) inside.push(p);
    });
    var all = exact.concat(prefix, inside);
    return { hits: all.slice(0, MAX_HITS), total: all.length };
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function axisName(axis) {
    return axis.replace(/^x/, "xaxis").replace(/^y/, "yaxis");
  }

  /* Move the view so that the point sits in its middle (the zoom stays as it is). */
  function centre(entry, key) {
    var p = entry.ex.xy[key], axes = entry.axes[key] || ["x", "y"], update = {};
    var layout = entry.div._fullLayout;
    if (!p || !layout) return Promise.resolve();
    [[axisName(axes[0]), p[0]], [axisName(axes[1]), p[1]]].forEach(function (pair) {
      var axis = layout[pair[0]];
      if (!axis || axis.type !== "linear" || !axis.range) return;
      var half = (axis.range[1] - axis.range[0]) / 2;
      update[pair[0] + ".range"] = [pair[1] - half, pair[1] + half];
    });
    return Object.keys(update).length ? Plotly.relayout(entry.div, update) : Promise.resolve();
  }

  function choose(entry, key) {
    return select(entry, key).then(function () { return centre(entry, key); }).then(function () {
      state.found = { id: key, figure: maps.indexOf(entry) };
    });
  }

  /* The search box above a map: type part of a label, arrows move through the hits, Enter
   * opens the chosen one (as a click on the map would), Escape closes the list. */
  function searchBox(entry, number) {
    var ex = entry.ex, points = searchIndex(ex), active = -1, shown = [];
    var field = ex.label_field ? ex.label_field : "id";
    var box = element("div", "ek-find");
    var input = element("input", "ek-find-input");
    var list = element("ul", "ek-find-list");
    var status = element("span", "ek-find-status");
    var listId = "ek-find-list-" + number;
    input.type = "search";
    input.autocomplete = "off";
    input.spellcheck = false;
    input.placeholder = ex.label_field ? "Find a point by " + field + " or id" : "Find a point by id";
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-label", "Find a point of this map by its " + field);
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);
    list.id = listId;
    list.setAttribute("role", "listbox");
    list.hidden = true;
    status.setAttribute("aria-live", "polite");
    box.appendChild(input);
    box.appendChild(status);
    box.appendChild(list);
    entry.div.parentNode.insertBefore(box, entry.div);

    function mark(index) {
      active = index;
      Array.prototype.forEach.call(list.children, function (li, i) {
        li.setAttribute("aria-selected", i === index ? "true" : "false");
      });
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", list.children[index].id);
        list.children[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }
    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      mark(-1);
    }
    function pick(index) {
      var hit = shown[index];
      if (!hit) return;
      input.value = hit.label || hit.id;
      close();
      status.textContent = "";
      choose(entry, hit.key);
    }
    function update() {
      var found = findHits(points, input.value);
      shown = found.hits;
      while (list.firstChild) list.removeChild(list.firstChild);
      shown.forEach(function (hit, i) {
        var li = element("li", "ek-hit");
        li.id = listId + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("data-key", hit.key);
        li.setAttribute("data-id", hit.id);
        li.appendChild(element("span", "ek-hit-label", hit.label || "id " + hit.id));
        li.appendChild(element("span", "ek-hit-id", hit.id));
        if (hit.category) li.appendChild(element("span", "ek-cat", hit.category));
        // mousedown, not click: the input keeps its focus, so the list is still there on click
        li.addEventListener("mousedown", function (e) { e.preventDefault(); pick(i); });
        list.appendChild(li);
      });
      var typed = input.value.trim() !== "";
      status.textContent = !typed ? "" : found.total === 0 ? "no match" :
        found.total > shown.length ? shown.length + " of " + found.total + " matches" :
        found.total + (found.total === 1 ? " match" : " matches");
      list.hidden = shown.length === 0;
      input.setAttribute("aria-expanded", shown.length ? "true" : "false");
      mark(shown.length ? 0 : -1);
    }
    input.addEventListener("input", update);
    input.addEventListener("focus", function () { if (input.value.trim()) update(); });
    input.addEventListener("blur", close);
    input.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        if (list.hidden) { update(); return; }
        var step = e.key === "ArrowDown" ? 1 : -1;
        mark((active + step + shown.length) % shown.length);
      } else if (e.key === "Enter") {
        e.preventDefault();
        if (!list.hidden) pick(active < 0 ? 0 : active);
      } else if (e.key === "Escape") {
        if (!list.hidden) { e.preventDefault(); close(); } else { input.value = ""; status.textContent = ""; }
      }
    });
    entry.find = input;
  }

  function resizeAll() {
    return Promise.all(divs.map(function (div) { return Plotly.Plots.resize(div); }));
  }

  function select(entry, key) {
    var opening = panel.hidden;
    state.selected = { id: key, figure: maps.indexOf(entry) };
    showPanel(entry, key);
    return (opening ? resizeAll() : Promise.resolve()).then(function () { return highlight(entry, key); });
  }

  function attach(entry) {
    var ex = entry.ex;
    entry.axes = {};
    entry.div.data.forEach(function (trace, t) {
      (ex.ids[t] || []).forEach(function (key) {
        entry.axes[key] = [trace.xaxis || "x", trace.yaxis || "y"];
      });
    });
    entry.hl = entry.div.data.length;
    maps.push(entry);
    searchBox(entry, maps.length);
    entry.div.on("plotly_click", function (ev) {
      var p = ev && ev.points && ev.points[0];
      if (!p || p.curveNumber >= ex.ids.length) return;
      var keys = ex.ids[p.curveNumber];
      var index = p.pointNumber !== undefined ? p.pointNumber : p.pointIndex;
      if (keys && keys[index] !== undefined) select(entry, keys[index]);
    });
    // rings drawn the way the map's points are: WebGL points cover any SVG trace beneath them
    var gl = entry.div.data.some(function (trace) { return trace.type === "scattergl"; });
    return Plotly.addTraces(entry.div, {
      type: gl ? "scattergl" : "scatter", mode: "markers+text", x: [], y: [], text: [], name: "neighbours",
      hoverinfo: "skip", showlegend: false, textposition: "top center",
      textfont: { color: "#d62728", size: 11 },
      marker: { size: 16, color: "rgba(0,0,0,0)", line: { color: "#d62728", width: 2.5 } }
    });
  }

  function render(div) {
    state.figures += 1;
    var spec;
    try {
      spec = JSON.parse(document.getElementById(div.getAttribute("data-spec")).textContent);
    } catch (err) {
      state.errors.push("figure spec: " + err);
      return Promise.resolve();
    }
    var fig = spec.figure, config = Object.assign({ responsive: true, displaylogo: false }, fig.config || {});
    return Plotly.newPlot(div, fig.data, fig.layout || {}, config).then(function () {
      // keep the figure's own height when the page re-lays out (plotly's resize would fit
      // the height to the div, which has none of its own)
      div.style.height = div._fullLayout.height + "px";
      state.rendered += 1;
      if (spec.explore) return attach({ div: div, ex: spec.explore });
    }).catch(function (err) { state.errors.push("figure " + div.id + ": " + err); });
  }

  function sortTable(table, column, th) {
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var value = function (row) {
      var cell = row.cells[column], v = cell.getAttribute("data-v");
      return v !== null && v !== "" && !isNaN(+v) ? +v : cell.textContent.toLowerCase();
    };
    rows.sort(function (a, b) {
      var x = value(a), y = value(b), r = x < y ? -1 : x > y ? 1 : 0;
      return ascending ? r : -r;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function tables() {
    Array.prototype.forEach.call(document.querySelectorAll(".ek-result"), function (box) {
      var table = box.querySelector("table"), filter = box.querySelector(".ek-filter");
      var count = box.querySelector(".ek-count");
      if (!table) return;
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, i) {
        th.addEventListener("click", function () { sortTable(table, i, th); });
      });
      if (count) count.setAttribute("data-all", count.textContent);
      if (filter) {
        filter.addEventListener("input", function () {
          var needle = filter.value.toLowerCase();
          var visible = 0;
          Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
            row.hidden = needle !== "" && row.textContent.toLowerCase().indexOf(needle) < 0;
            if (!row.hidden) visible += 1;
          });
          if (count) {
            count.textContent = needle === "" ? count.getAttribute("data-all")
              : visible + " of " + count.getAttribute("data-rows") + " row(s) match";
          }
        });
      }
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var key = row.getAttribute("data-key");
        var entry = key === null ? null : maps.filter(function (m) { return m.ex.neighbours[key] || m.ex.xy[key]; })[0];
        if (!entry) return;
        row.classList.add("ek-linked");
        row.title = "Show this point and its neighbours on the map";
        row.addEventListener("click", function () { select(entry, key); });
      });
    });
  }

  var divs = Array.prototype.slice.call(document.querySelectorAll(".ek-plot"));
  var done = typeof Plotly === "undefined"
    ? (divs.length ? (state.errors.push("plotly.js is missing"), Promise.resolve()) : Promise.resolve())
    : divs.reduce(function (p, div) { return p.then(function () { return render(div); }); }, Promise.resolve());
  done.then(function () {
    tables();
    document.body.setAttribute("data-ek-ready", "1");
  });
})();
