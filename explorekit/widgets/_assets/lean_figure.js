// The front end of explorekit's LeanFigureWidget: plotly's FigureWidget without its ~5 MB bundle
// in the widget state. The first figure on a page asks its kernel for plotly's own widget code
// (one custom message, the bytes as a binary buffer), imports it once, and every later figure of
// the page reuses it; then each figure is plotly's own widget, unchanged.
const KEY = Symbol.for("explorekit.plotly-widget");
const ASK = "explorekit:plotly-bundle?";
const TAKE = "explorekit:plotly-bundle";
const READY = "explorekit:figure-ready";

function load(code) {
  const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
  return import(url).finally(() => URL.revokeObjectURL(url));
}

function ask(model) {
  return new Promise((resolve, reject) => {
    const take = (msg, buffers) => {
      if (!msg || msg.type !== TAKE) return;
      model.off("msg:custom", take);
      load(buffers[0]).then(resolve, reject);
    };
    model.on("msg:custom", take);
    model.on("destroy", () => reject(new Error("the figure was closed before plotly's code arrived")));
    model.send({ type: ASK });
  });
}

// One request per page; a figure waiting on another figure's request that failed (that figure
// closed, its kernel restarted) asks its own kernel once.
function plotlyWidget(model, retry = true) {
  let loading = globalThis[KEY];
  if (!loading) {
    const carried = model.get("_bundle"); // the first figure of a kernel brings the code along
    loading = carried && carried.byteLength ? load(carried) : ask(model);
    globalThis[KEY] = loading;
    loading.catch(() => {
      if (globalThis[KEY] === loading) delete globalThis[KEY];
    });
  }
  return retry ? loading.catch(() => plotlyWidget(model, false)) : loading;
}

// Hover events travel to Python only if something there listens; nothing in explorekit does,
// and each one costs the kernel a round trip (and queues ahead of the next click). plotly's
// view sends an event as model.set("_js2py_pointsCallback", msg) then save_changes(): both are
// skipped for hovers. Clicks, selections and everything else pass unchanged.
const QUIET = new Set(["plotly_hover", "plotly_unhover"]);

function keepHoversInThePage(model) {
  const set = model.set.bind(model);
  const save = model.save_changes.bind(model);
  let skipped = false;
  model.set = (key, value, ...rest) => {
    if (key === "_js2py_pointsCallback" && value && QUIET.has(value.event_type)) {
      skipped = true;
      return model;
    }
    return set(key, value, ...rest);
  };
  model.save_changes = (...args) => {
    if (skipped) {
      skipped = false;
      return undefined;
    }
    return save(...args);
  };
}

// plotly sizes a figure to its element when it draws: wait until the element is in the page
// (a widget's view is built before its output area attaches it) and laid out. With the code
// carried in the state, the figure is otherwise ready before it has a width (drawn at 700 px).
async function attached(el) {
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  for (let i = 0; i < 600 && !el.isConnected; i++) await frame();
  await frame();
}

// plotly's view marks a change that came from Python with `_doNotReportToPy = true` inside the
// relayout/restyle data it hands to plotly.js (so the plotly_relayout event is not sent back).
// plotly.js takes that key for an unknown attribute and then recalculates and redraws every trace:
// a shapes-only change (the Explorer's overlays) redrew all the map's WebGL points. Assigning the
// mark now makes it a non-enumerable own property: plotly's `hasOwnProperty` checks still see it,
// plotly.js (which walks the keys) does not. The event copy then lacks the mark, so plotly reports
// the change back to Python; LeanFigureWidget ignores those echoes (_figure.py).
const MARK = "_doNotReportToPy";
if (!Object.prototype.hasOwnProperty.call(Object.prototype, MARK)) {
  Object.defineProperty(Object.prototype, MARK, {
    configurable: true,
    enumerable: false,
    get() {
      return undefined;
    },
    set(value) {
      Object.defineProperty(this, MARK, { value, writable: true, enumerable: false, configurable: true });
    },
  });
}

export default () => {
  let figure = null;
  let ready = null;
  return {
    initialize({ model }) {
      ready = plotlyWidget(model).then((module) => {
        figure = module.default();
        figure.initialize({ model });
        keepHoversInThePage(model);
        model.send({ type: READY });
      });
      ready.catch((err) => console.error("[explorekit] plotly's widget code did not load:", err));
    },
    async render({ model, el }) {
      const note = document.createElement("div");
      note.className = "ek-figure-loading";
      note.style.cssText = "padding:12px;color:#666;font:13px sans-serif";
      note.textContent =
        "Loading the figure: plotly's widget code comes from the running kernel " +
        "(it is not stored in the notebook). Without a kernel, explorer.to_report() makes a page that works offline.";
      el.appendChild(note);
      try {
        await ready;
      } catch (err) {
        note.textContent = "This figure needs its running kernel (plotly's widget code is not stored in the notebook): " + err;
        return;
      }
      await attached(el);
      note.remove();
      return figure.render({ model, el });
    },
  };
};
