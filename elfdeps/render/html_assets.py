"""The stylesheet and script of the HTML report (render/html.py), kept apart so the report module
reads as the document it builds. The script only ever puts names into the page as text
(``textContent``), never as markup, and fetches nothing: the report works from a file:// URL.
"""

from __future__ import annotations

__all__ = ["CSS", "SCRIPT"]

CSS = """
* { box-sizing: border-box; }
html, body { margin: 0; height: 100%; font: 14px/1.4 Helvetica, Arial, sans-serif; color: #1b1b1b; }
body { display: flex; flex-direction: column; }
header { display: flex; align-items: center; gap: 8px; padding: 6px 12px; background: #24292f; color: #fff; }
header h1 { font-size: 15px; margin: 0 12px 0 0; font-weight: 600; }
header .files { color: #c9d1d9; font-family: monospace; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; max-width: 40vw; }
header .spacer { flex: 1; }
header input { width: 240px; padding: 4px 8px; border-radius: 4px; border: 1px solid #57606a; }
header button { min-width: 30px; padding: 3px 8px; border-radius: 4px; border: 1px solid #57606a;
  background: #f6f8fa; cursor: pointer; }
#search-count { min-width: 80px; color: #c9d1d9; font-size: 12px; }
main { flex: 1; display: flex; min-height: 0; }
#viewport { flex: 1; position: relative; overflow: hidden; background: #fff; cursor: grab; touch-action: none; }
#viewport.panning { cursor: grabbing; }
#viewport svg { width: 100%; height: 100%; display: block; user-select: none; }
aside { width: 360px; overflow-y: auto; border-left: 1px solid #d0d7de; padding: 10px 14px; background: #fafbfc; }
aside h2 { font-size: 16px; margin: 4px 0 8px; overflow-wrap: anywhere; }
aside h3 { font-size: 13px; margin: 14px 0 4px; text-transform: uppercase; color: #57606a; letter-spacing: .04em; }
aside dl { margin: 0; display: grid; grid-template-columns: 88px 1fr; gap: 2px 8px; }
aside dt { color: #57606a; }
aside dd { margin: 0; overflow-wrap: anywhere; }
aside ul { margin: 0; padding-left: 18px; }
aside li { margin: 2px 0; overflow-wrap: anywhere; }
aside .hint { color: #57606a; }
aside button.link { border: 0; background: none; padding: 0; color: #0969da; cursor: pointer; font: inherit;
  text-align: left; overflow-wrap: anywhere; }
aside button.link:hover { text-decoration: underline; }
.sev { display: inline-block; font-size: 11px; padding: 0 5px; border-radius: 8px; margin-right: 4px; color: #fff; }
.sev-error { background: #d7301f; } .sev-warning { background: #e08a00; } .sev-info { background: #6e7781; }
.finding .hintline { color: #57606a; font-size: 12px; }
g.node { cursor: pointer; }
svg.focus g.node:not(.hl):not(.legend), svg.focus g.edge:not(.hl) { opacity: .22; }
g.edge.hl path { stroke: #0969da; stroke-width: 2.4; }
g.edge.hl polygon { stroke: #0969da; fill: #0969da; }
g.node.selected path, g.node.selected polygon, g.node.selected ellipse { stroke: #0969da; stroke-width: 3.5; }
g.node.match path, g.node.match polygon { stroke: #bf3989; stroke-width: 3.5; }
"""

SCRIPT = r"""
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("elfdeps-data").textContent);
  const viewport = document.getElementById("viewport");
  const svg = viewport.querySelector("svg");
  const panel = document.getElementById("details");
  const search = document.getElementById("search");
  const searchCount = document.getElementById("search-count");
  const incoming = new Map();
  const outgoing = new Map();
  for (const [edgeId, source, target] of data.edges) {
    if (!incoming.has(target)) incoming.set(target, []);
    incoming.get(target).push([edgeId, source]);
    if (!outgoing.has(source)) outgoing.set(source, []);
    outgoing.get(source).push([edgeId, target]);
  }
  const element = (id) => document.getElementById(id);

  // ---- pan and zoom: the SVG's viewBox is the camera
  const base = svg.viewBox.baseVal;
  const initial = { x: base.x, y: base.y, w: base.width, h: base.height };
  let view = Object.assign({}, initial);
  function apply() { svg.setAttribute("viewBox", view.x + " " + view.y + " " + view.w + " " + view.h); }
  function toSvg(clientX, clientY, matrix) {
    const point = svg.createSVGPoint();
    point.x = clientX; point.y = clientY;
    return point.matrixTransform((matrix || svg.getScreenCTM()).inverse());
  }
  function zoomAt(factor, clientX, clientY) {
    const p = toSvg(clientX, clientY);
    const w = Math.min(Math.max(view.w * factor, initial.w / 200), initial.w * 4);
    const f = w / view.w;
    view = { x: p.x - (p.x - view.x) * f, y: p.y - (p.y - view.y) * f, w: view.w * f, h: view.h * f };
    apply();
  }
  function zoomCentre(factor) {
    const r = viewport.getBoundingClientRect();
    zoomAt(factor, r.left + r.width / 2, r.top + r.height / 2);
  }
  function fit() { view = Object.assign({}, initial); apply(); }
  function centreOn(id) {
    const node = element(id);
    if (!node) return;
    const box = node.getBoundingClientRect();
    const c = toSvg(box.left + box.width / 2, box.top + box.height / 2);
    const scale = Math.min(view.w, initial.w / 2, Math.max(initial.w / 8, 600));
    const ratio = view.h / view.w;
    view = { x: c.x - scale / 2, y: c.y - scale * ratio / 2, w: scale, h: scale * ratio };
    apply();
  }
  viewport.addEventListener("wheel", (event) => {
    event.preventDefault();
    zoomAt(Math.exp(event.deltaY * 0.0015), event.clientX, event.clientY);
  }, { passive: false });
  let drag = null;
  viewport.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    drag = {
      matrix: svg.getScreenCTM(), x: event.clientX, y: event.clientY, view: Object.assign({}, view), moved: false,
    };
  });
  window.addEventListener("pointermove", (event) => {
    if (!drag) return;
    if (Math.abs(event.clientX - drag.x) + Math.abs(event.clientY - drag.y) > 3) {
      drag.moved = true;
      viewport.classList.add("panning");
    }
    if (!drag.moved) return;
    const a = toSvg(drag.x, drag.y, drag.matrix);
    const b = toSvg(event.clientX, event.clientY, drag.matrix);
    view = Object.assign({}, drag.view, { x: drag.view.x - (b.x - a.x), y: drag.view.y - (b.y - a.y) });
    apply();
  });
  window.addEventListener("pointerup", () => {
    if (drag && drag.moved) {
      viewport.classList.remove("panning");
      const wasDrag = true;
      drag = null;
      viewport.dataset.dragged = wasDrag ? "1" : "";
      return;
    }
    drag = null;
  });
  element("zoom-in").addEventListener("click", () => zoomCentre(1 / 1.3));
  element("zoom-out").addEventListener("click", () => zoomCentre(1.3));
  element("zoom-fit").addEventListener("click", fit);

  // ---- selection: details and every chain from an analysed file to the node
  function make(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }
  function link(id) {
    const target = data.nodes[id];
    const button = make("button", target ? target.name : id, "link");
    button.type = "button";
    button.addEventListener("click", () => { select(id); centreOn(id); });
    return button;
  }
  function list(ids) {
    const ul = make("ul");
    for (const id of ids) { const li = make("li"); li.appendChild(link(id)); ul.appendChild(li); }
    return ul;
  }
  function findingItem(finding) {
    const li = make("li", null, "finding");
    li.appendChild(make("span", finding.severity, "sev sev-" + finding.severity));
    li.appendChild(make("strong", finding.rule));
    li.appendChild(document.createTextNode(": " + finding.message));
    if (finding.hint) li.appendChild(make("div", "hint: " + finding.hint, "hintline"));
    return li;
  }
  function ancestors(id) {
    const seen = new Set([id]);
    const queue = [id];
    while (queue.length) {
      const current = queue.pop();
      for (const [, source] of (incoming.get(current) || [])) {
        if (!seen.has(source)) { seen.add(source); queue.push(source); }
      }
    }
    return seen;
  }
  function clearMarks(name) { for (const el of svg.querySelectorAll("." + name)) el.classList.remove(name); }
  function select(id) {
    const node = data.nodes[id];
    if (!node) return;
    clearMarks("hl"); clearMarks("selected");
    const onChains = ancestors(id);
    for (const member of onChains) { const el = element(member); if (el) el.classList.add("hl"); }
    for (const [edgeId, source, target] of data.edges) {
      if (onChains.has(source) && onChains.has(target) && source !== id) {
        const el = element(edgeId);
        if (el) el.classList.add("hl");
      }
    }
    element(id).classList.add("selected");
    svg.classList.add("focus");
    showDetails(id, node, onChains.size - 1);
  }
  function section(key, title, content) {
    const box = make("section");
    box.dataset.section = key;
    box.appendChild(make("h3", title));
    box.appendChild(content);
    panel.appendChild(box);
  }
  function findingList(findings) {
    if (!findings.listed.length) return make("p", "none", "hint");
    const ul = make("ul");
    for (const finding of findings.listed) ul.appendChild(findingItem(finding));
    for (const [rule, count] of Object.entries(findings.leftOut)) {
      ul.appendChild(make("li", "and " + count + " more " + rule + " findings", "hint"));
    }
    return ul;
  }
  function showDetails(id, node, chainNodes) {
    panel.replaceChildren();
    panel.appendChild(make("h2", node.name));
    const dl = make("dl");
    const row = (label, value) => { dl.appendChild(make("dt", label)); dl.appendChild(make("dd", value)); };
    row("kind", node.kind);
    row("path", node.path === null ? "(not found)" : node.path);
    row("found by", node.how);
    if (node.members > 1) row("objects", String(node.members));
    if (node.hidden) row("hidden", node.hidden + " dependencies beyond --max-depth");
    panel.appendChild(dl);
    for (const group of node.groups) {
      const box = make("div");
      box.appendChild(make("p", group.message));
      box.appendChild(list(group.members.filter((member) => member !== id)));
      section("group", "same crate elsewhere: " + group.label, box);
    }
    section("findings", "findings", findingList(node.findings));
    section("needed-by", "needed by",
      node.neededBy.length ? list(node.neededBy) : make("p", "nothing: an analysed file", "hint"));
    section("needs", "needs", node.needs.length ? list(node.needs) : make("p", "nothing", "hint"));
    if (node.searched.length) {
      const ul = make("ul");
      for (const place of node.searched) ul.appendChild(make("li", place));
      section("searched", "searched, in order", ul);
    }
    const others = chainNodes === 1 ? "1 other object" : chainNodes + " other objects";
    panel.appendChild(make("p", others + " on the chains from the analysed files to it (highlighted)", "hint"));
  }
  function clearSelection() {
    clearMarks("hl"); clearMarks("selected");
    svg.classList.remove("focus");
    showOverview();
  }
  function showOverview() {
    panel.replaceChildren();
    panel.appendChild(make("h2", data.title));
    panel.appendChild(make("p", data.summary));
    const problems = Object.keys(data.nodes).filter(
      (id) => data.nodes[id].findings.listed.some((f) => f.severity !== "info"));
    section("problems", "objects with problems", problems.length ? list(problems) : make("p", "none", "hint"));
    panel.appendChild(make("p", "Click a node for how it was found, who needs it and its findings; drag to pan, " +
      "scroll to zoom, search by name or path.", "hint"));
  }
  for (const id of Object.keys(data.nodes)) {
    const el = element(id);
    if (!el) continue;
    el.addEventListener("click", (event) => { event.stopPropagation(); select(id); });
  }
  viewport.addEventListener("click", (event) => {
    if (viewport.dataset.dragged === "1") { viewport.dataset.dragged = ""; return; }
    if (!event.target.closest("g.node")) clearSelection();
  });

  // ---- search by name or path
  function runSearch(jump) {
    clearMarks("match");
    const query = search.value.trim().toLowerCase();
    if (!query) { searchCount.textContent = ""; return; }
    const found = Object.keys(data.nodes).filter((id) => {
      const node = data.nodes[id];
      return node.name.toLowerCase().includes(query) || (node.path || "").toLowerCase().includes(query);
    });
    for (const id of found) { const el = element(id); if (el) el.classList.add("match"); }
    searchCount.textContent = found.length === 1 ? "1 match" : found.length + " matches";
    if (jump && found.length) { select(found[0]); centreOn(found[0]); }
  }
  search.addEventListener("input", () => runSearch(false));
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") runSearch(true);
    if (event.key === "Escape") { search.value = ""; runSearch(false); clearSelection(); }
  });
  showOverview();
})();
"""
