// The Workspace pane's view (anywidget): a filterable, sortable table of the kernel's
// variables. Plain JavaScript, loaded as is: no build step. The kernel sends `rows`,
// `marks` (what the last %run did to each name) and `run` (which %run); this view
// tells the kernel whether it is shown (`visible`), so cells refresh it only then.

const COLUMNS = [
  ["name", "Name", "name"],
  ["type", "Type", "type"],
  ["shape", "Shape", "length"],
  ["size", "Size", "bytes"],
  ["value", "Value", "value"],
  ["set_by", "Set by", "cell"],
];

const STYLE = `
.ws-pane { font-family: var(--jp-ui-font-family); font-size: var(--jp-ui-font-size1);
  color: var(--jp-ui-font-color1); padding: 4px; overflow-x: auto; }
.ws-bar { display: flex; gap: 4px; align-items: center; flex-wrap: wrap; margin-bottom: 4px; }
.ws-bar input[type=search] { flex: 1; min-width: 8em; }
.ws-run { margin: 2px 0 4px; color: var(--jp-ui-font-color2); display: flex; gap: 6px; align-items: center; }
.ws-run:empty { display: none; }
.ws-table { border-collapse: collapse; width: 100%; }
.ws-table th { text-align: left; cursor: pointer; user-select: none; position: sticky; top: 0;
  background: var(--jp-layout-color2); border-bottom: 1px solid var(--jp-border-color1); padding: 2px 4px; }
.ws-table td { padding: 1px 4px; border-bottom: 1px solid var(--jp-border-color3); white-space: nowrap;
  max-width: 14em; overflow: hidden; text-overflow: ellipsis; }
.ws-table td.ws-num { text-align: right; }
.ws-table td[data-column=value] { max-width: 8em; }
.ws-table td[data-column=type] { max-width: 9em; }
.ws-mark { font-size: 85%; padding: 0 3px; border-radius: 3px; margin-left: 4px; }
tr.ws-created .ws-mark { background: #c8e6c9; color: #1b5e20; }
tr.ws-overwritten .ws-mark, tr.ws-changed .ws-mark { background: #ffe0b2; color: #8a4b00; }
tr.ws-read .ws-mark { background: #bbdefb; color: #0d47a1; }
tr.ws-deleted .ws-mark { background: #e0e0e0; color: #424242; }
tr.ws-deleted td { text-decoration: line-through; color: var(--jp-ui-font-color3); }
.ws-foot { color: var(--jp-ui-font-color2); margin-top: 4px; }
`;

function globToRegExp(pattern) {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  return new RegExp("^" + escaped.replace(/\*/g, ".*").replace(/\?/g, ".") + "$", "i");
}

function compare(a, b) {
  if (a === b) return 0;
  if (a === null || a === undefined || a === "") return 1;
  if (b === null || b === undefined || b === "") return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: "base" });
}

function el(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.appendChild(child);
  return node;
}

function render({ model, el: root }) {
  const state = { sort: "name", descending: false, filter: "", type: "", code: false };
  if (!document.getElementById("workspace-pane-style")) {
    document.head.appendChild(el("style", { id: "workspace-pane-style", text: STYLE }));
  }
  const filter = el("input", { type: "search", class: "ws-filter", placeholder: "Filter names: pen*, measured" });
  const types = el("select", { class: "ws-type", title: "Only values of this type" });
  const code = el("input", { type: "checkbox", class: "ws-code" });
  const codeLabel = el("label", { title: "Also list modules, functions and classes" }, [code]);
  codeLabel.appendChild(document.createTextNode(" modules, functions"));
  const run = el("div", { class: "ws-run" });
  const head = el("tr");
  const body = el("tbody");
  const foot = el("div", { class: "ws-foot" });
  const pane = el("div", { class: "ws-pane" }, [
    el("div", { class: "ws-bar" }, [filter, types, codeLabel]),
    run,
    el("table", { class: "ws-table" }, [el("thead", {}, [head]), body]),
    foot,
  ]);
  root.appendChild(pane);

  for (const [, label, key] of COLUMNS) {
    const th = el("th", { "data-sort": key, text: label, title: "Sort by " + label.toLowerCase() });
    th.addEventListener("click", () => {
      state.descending = state.sort === key ? !state.descending : key === "bytes";
      state.sort = key;
      draw();
    });
    head.appendChild(th);
  }
  filter.addEventListener("input", () => { state.filter = filter.value.trim(); draw(); });
  types.addEventListener("change", () => { state.type = types.value; draw(); });
  code.addEventListener("change", () => { state.code = code.checked; draw(); });

  function shownRows() {
    const marks = model.get("marks") || {};
    const rows = (model.get("rows") || []).map((row) => ({ ...row, ...(marks[row.name] || {}) }));
    const present = new Set(rows.map((row) => row.name));
    for (const [name, mark] of Object.entries(marks)) {
      if (mark.mark === "deleted" && !present.has(name)) {
        rows.push({ name, type: "", shape: "", size: "", value: "", set_by: "", ...mark });
      }
    }
    const pattern = state.filter;
    const matches = !pattern ? () => true
      : /[*?]/.test(pattern) ? ((re) => (name) => re.test(name))(globToRegExp(pattern))
      : (name) => name.toLowerCase().includes(pattern.toLowerCase());
    return rows.filter((row) =>
      matches(row.name)
      && (!state.type || row.type.split(" ")[0] === state.type)
      && (state.code || !row.code || row.mark));
  }

  function drawTypes() {
    const names = [...new Set((model.get("rows") || []).filter((r) => state.code || !r.code)
      .map((row) => row.type.split(" ")[0]))].sort();
    if (state.type && !names.includes(state.type)) names.push(state.type);
    types.replaceChildren(el("option", { value: "", text: "all types" }),
      ...names.map((name) => el("option", { value: name, text: name })));
    types.value = state.type;
  }

  function draw() {
    drawTypes();
    const rows = shownRows();
    rows.sort((a, b) => compare(a[state.sort], b[state.sort]) || compare(a.name, b.name));
    if (state.descending) rows.reverse();
    for (const th of head.children) {
      const sorted = th.dataset.sort === state.sort;
      th.textContent = th.textContent.replace(/ [▲▼]$/, "") + (sorted ? (state.descending ? " ▼" : " ▲") : "");
      th.setAttribute("aria-sort", sorted ? (state.descending ? "descending" : "ascending") : "none");
    }
    body.replaceChildren(...rows.map((row) => {
      const tr = el("tr", { "data-name": row.name, class: row.mark ? "ws-" + row.mark : "" });
      for (const [field] of COLUMNS) {
        const td = el("td", { "data-column": field, text: row[field] ?? "" });
        if (field === "shape" || field === "size") td.className = "ws-num";
        if (field === "set_by" && row.execution) td.title = "In [" + row.execution + "]";
        if (field === "name" && row.mark) {
          td.appendChild(el("span", { class: "ws-mark", "data-mark": row.mark, text: row.mark, title: row.detail || "" }));
          td.title = row.detail || "";
        }
        if (field === "value" && row.value) td.title = row.value;
        tr.appendChild(td);
      }
      return tr;
    }));
    const total = (model.get("rows") || []).filter((r) => state.code || !r.code).length;
    foot.textContent = `${rows.length} of ${total} variables`;
    const command = model.get("run");
    run.replaceChildren();
    if (command) {
      const clear = el("button", { class: "ws-clear", text: "Clear marks", title: "Forget the marks of this %run" });
      clear.addEventListener("click", () => model.send({ clear_marks: true }));
      run.append(el("span", { text: "Marks from " + command }), clear);
    }
  }

  // Whether the pane is on screen: a collapsed sidebar or another tab hides it.
  let visible = null;
  const observer = new ResizeObserver(() => {
    const now = root.isConnected && root.offsetParent !== null && root.clientWidth > 0;
    if (now !== visible) {
      visible = now;
      if (model.get("visible") !== now) {
        model.set("visible", now);
        model.save_changes();
      }
    }
  });
  observer.observe(root);

  // Bring this pane forward in the sidebar; false while it is not placed there yet.
  function reveal() {
    const area = root.closest(".jp-SideAreaWidget");
    if (!area || !area.id) return false;
    if (root.offsetParent !== null) return true;
    const tab = document.querySelector(`.jp-SideBar .lm-TabBar-tab[data-id="${CSS.escape(area.id)}"]`);
    if (!tab) return false;
    // Lumino's tab bar selects on pointerdown, not on click.
    const box = tab.getBoundingClientRect();
    const where = { bubbles: true, cancelable: true, button: 0, clientX: box.x + box.width / 2, clientY: box.y + box.height / 2 };
    tab.dispatchEvent(new PointerEvent("pointerdown", where));
    tab.dispatchEvent(new PointerEvent("pointerup", where));
    return root.offsetParent !== null;
  }
  let revealing = null;
  function keepRevealing(tries = 60) {  // the panel reaches the sidebar a moment after this view
    clearTimeout(revealing);
    if (!reveal() && tries > 0) revealing = setTimeout(() => keepRevealing(tries - 1), 250);
  }

  // A kernel restart or shutdown ends this pane: say so, and when the notebook's new kernel
  // opens its own pane, hide this one's tab (one pane per kernel, one tab per notebook).
  const panes = (window.__workspacePanes = window.__workspacePanes || []);
  const me = { notebook: model.get("notebook"), stale: false, hideTab: () => {
    const area = root.closest(".jp-SideAreaWidget");
    const tab = area && document.querySelector(`.jp-SideBar .lm-TabBar-tab[data-id="${CSS.escape(area.id)}"]`);
    if (tab) tab.style.display = "none";
  } };
  for (const other of panes) if (other.stale && other.notebook === me.notebook) other.hideTab();
  panes.push(me);
  const onCommLive = () => {
    me.stale = true;
    body.replaceChildren();
    run.replaceChildren();
    foot.textContent = "The kernel restarted or stopped: run the notebook's %workspace --pane again.";
  };
  model.on("comm_live_update", onCommLive);
  // Follow the notebook on screen: choosing a notebook's tab shows its kernel's pane, when the
  // sidebar shows a Workspace pane (a hidden pane costs its kernel nothing).
  function follow(mutations) {
    if (me.stale || !me.notebook || root.offsetParent !== null) return;
    if (!mutations.some((m) => m.target.classList && m.target.classList.contains("lm-TabBar-tab"))) return;
    const current = document.querySelector("#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current");
    const path = current && /Path: (.+)/.exec(current.title || "");
    if (!path || !(me.notebook === path[1] || me.notebook.endsWith("/" + path[1]))) return;
    if ([...document.querySelectorAll(".ws-pane")].some((p) => p.offsetParent !== null)) keepRevealing(4);
  }
  const follower = new MutationObserver(follow);
  const dock = document.querySelector("#jp-main-dock-panel");
  if (dock) follower.observe(dock, { subtree: true, attributes: true, attributeFilter: ["class"] });
  const onMessage = (content) => { if (content && content.reveal) keepRevealing(); };
  model.on("msg:custom", onMessage);
  model.on("change:rows", draw);
  model.on("change:marks", draw);
  model.on("change:run", draw);
  draw();
  keepRevealing();
  return () => {
    observer.disconnect();
    follower.disconnect();
    clearTimeout(revealing);
    model.off("msg:custom", onMessage);
    model.off("comm_live_update", onCommLive);
    panes.splice(panes.indexOf(me), 1);
    model.off("change:rows", draw);
    model.off("change:marks", draw);
    model.off("change:run", draw);
  };
}

export default { render };
