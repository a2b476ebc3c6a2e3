// The Explorer's search box (explorekit.widgets._search.SearchBox): a text input and a list of
// hits below it that the keyboard walks. The kernel does the matching (explorekit.widgets._find.match)
// and sends the hits; this code only draws them and says which one is shown or chosen:
//   typing        -> model "text"                     (the kernel answers with "hits")
//   Up / Down     -> message {type: "preview", index}  (the kernel rings that point on the map)
//   Enter, click  -> message {type: "choose", index}   (the kernel adds it as an example)
//   Escape        -> closes the list
// Keys are kept from JupyterLab's shortcuts while the input has the focus.
function render({ model, el }) {
  const box = document.createElement("div");
  box.className = "ek-find";
  const input = document.createElement("input");
  input.type = "text";
  input.className = "ek-find-input";
  input.placeholder = model.get("placeholder");
  input.setAttribute("aria-label", "find a point by name");
  input.setAttribute("data-lm-suppress-shortcuts", "true");
  const list = document.createElement("div");
  list.className = "ek-find-list";
  list.setAttribute("role", "listbox");
  const caption = document.createElement("span");
  caption.className = "ek-find-caption";
  caption.textContent = "find";
  const field = document.createElement("div");
  field.className = "ek-find-field";
  field.append(input, list);
  box.append(caption, field);
  el.append(box);
  let active = 0;
  let open = false;

  function draw() {
    const hits = model.get("hits");
    const rows = [];
    const note = model.get("note");
    if (note) {
      const line = document.createElement("div");
      line.className = "ek-find-note";
      line.textContent = note;
      rows.push(line);
    }
    hits.forEach((hit, i) => {
      const row = document.createElement("div");
      row.className = "ek-find-hit" + (i === active ? " ek-active" : "");
      row.setAttribute("role", "option");
      row.setAttribute("aria-selected", i === active ? "true" : "false");
      const name = document.createElement("span");
      name.className = "ek-find-name";
      name.textContent = hit.name;
      row.append(name);
      if (hit.note) {
        const cat = document.createElement("span");
        cat.className = "ek-find-cat";
        cat.textContent = hit.note;
        row.append(cat);
      }
      row.addEventListener("mousedown", (event) => {
        event.preventDefault(); // keep the focus in the input
        choose(i);
      });
      rows.push(row);
    });
    list.replaceChildren(...rows);
    list.style.display = open && rows.length ? "block" : "none";
    const current = list.querySelector(".ek-active");
    if (current) current.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    const n = model.get("hits").length;
    if (!n) return;
    open = true;
    active = (active + step + n) % n;
    draw();
    model.send({ type: "preview", index: active });
  }

  function choose(i) {
    if (i >= model.get("hits").length) return;
    active = i;
    open = false;
    draw();
    model.send({ type: "choose", index: i });
  }

  input.addEventListener("input", () => {
    open = true;
    model.set("text", input.value);
    model.save_changes();
  });
  input.addEventListener("keydown", (event) => {
    const keys = { ArrowDown: () => move(1), ArrowUp: () => move(-1), Enter: () => choose(active) };
    if (event.key in keys) {
      event.preventDefault();
      keys[event.key]();
    } else if (event.key === "Escape") {
      open = false;
      draw();
    }
    event.stopPropagation();
  });
  input.addEventListener("focus", () => {
    open = true;
    draw();
  });
  input.addEventListener("blur", () => {
    open = false;
    draw();
  });
  model.on("change:hits", () => {
    active = model.get("active");
    if (model.get("focus")) {
      open = true;
      input.focus({ preventScroll: true });
    }
    draw();
  });
  model.on("change:note", draw);
  model.on("change:text", () => {
    if (input.value !== model.get("text")) input.value = model.get("text");
  });
  draw();
}

export default { render };
