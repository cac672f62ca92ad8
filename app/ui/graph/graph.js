// The live block graph: Graphviz's SVG in the page, pan and zoom (svg-pan-zoom, vendored above this file),
// hover details, click to expand/collapse or select, search, a colour legend.
// Everything shown from a node comes from its data-* attributes and is written with textContent, never HTML.

const STORE = (window.__archlibGraph = window.__archlibGraph || {}); // per view: zoom, pan, search, anchor
const READABLE = 1.0; // screen px per SVG pt: 10 pt labels at 10 px, comfortably read
const FIT_READABLE = 0.85; // a graph that fits at this scale opens whole; a bigger one opens at its start
const CLICK_SLOP = 4; // px a press may move and still be a click, not a drag

function fmtInt(v) {
  return Number(v).toLocaleString("en-US");
}

function pct(v, total) {
  if (!total) return "";
  const p = (100 * v) / total;
  return p === 0 ? "0%" : p < 0.01 ? "<0.01%" : p.toFixed(p < 1 ? 2 : 1) + "%";
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function shapeText(s) {
  return s ? s.split("x").join("×") : "";
}

// the part of a node's card that lists its op kinds (a group) or its operator (an op)
function kindsText(d) {
  if (!d.kinds) return d.op;
  let kinds;
  try {
    kinds = JSON.parse(d.kinds);
  } catch (e) {
    return d.op;
  }
  const parts = Object.entries(kinds).map(([k, n]) => (n > 1 ? `${k} ×${n}` : k));
  return parts.slice(0, 6).join(" · ") + (parts.length > 6 ? ` · +${parts.length - 6} more` : "");
}

function fillCard(card, g, totals, latencySource) {
  const d = g.dataset;
  card.replaceChildren();
  const head = el("div", "ag-card-head");
  head.append(el("b", "", d.name));
  const what = d.kind === "expanded" ? `expanded · ${d.ops} ops` : d.kind === "group"
    ? `${d.level || "group"} · ${d.ops} ops` : d.kind === "input" ? "input" : d.level === "op" || !d.level ? "op" : d.level;
  head.append(el("span", "ag-tag", what));
  card.append(head);
  if (d.kind !== "input") card.append(el("div", "ag-kinds", kindsText(d)));
  card.append(el("div", "ag-shapes", (d.in ? shapeText(d.in) + " → " : "") + shapeText(d.out)));
  if (d.kind === "input") return;
  const table = el("table", "ag-costs");
  const rows = [["MACs", "macs"], ["Params", "params"], ["Activations", "activations"], ["Elementwise", "elementwise"]];
  for (const [label, k] of rows) {
    const tr = el("tr");
    tr.append(el("td", "", label), el("td", "ag-num", fmtInt(d[k] || 0)), el("td", "ag-share", pct(d[k] || 0, totals[k])));
    table.append(tr);
  }
  if (d.ms !== undefined) {
    const tr = el("tr");
    const partial = d.msOps && d.msOps !== d.ops ? ` (${d.msOps} of ${d.ops} ops)` : "";
    tr.append(el("td", "", "Latency"), el("td", "ag-num", `${Number(d.ms).toPrecision(3)} ms`),
      el("td", "ag-share", (latencySource || "") + partial));
    table.append(tr);
  }
  card.append(table);
  const hint = d.kind === "expanded" ? "click the frame to collapse" : d.expandable ? "click to expand" : "click to select";
  card.append(el("div", "ag-hint", hint + " · share = of the model's total"));
}

// the elements that show the selected name: itself, else its visible parts, else the collapsed group holding it
function selectedEls(nodes, focus) {
  if (!focus) return [];
  const exact = nodes.filter((g) => g.dataset.name === focus);
  if (exact.length) return exact;
  const parts = nodes.filter((g) => (g.dataset.name || "").startsWith(focus + "."));
  if (parts.length) return parts;
  return nodes.filter((g) => g.classList.contains("node") && focus.startsWith((g.dataset.name || "") + "."));
}

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const root = parentElement.querySelector(".ag-root");
  if (!root || !data) return;
  // Streamlit keeps the component's DOM when only its data changes and does not always run the returned
  // cleanup first: the previous drawing's listeners and pan-zoom are torn down here
  if (root.__agCleanup) root.__agCleanup();
  const view = String(data.view || "graph");
  const saved = (STORE[view] = STORE[view] || {});
  const stage = root.querySelector(".ag-stage");
  const host = root.querySelector(".ag-svg");
  const card = root.querySelector(".ag-card");
  const search = root.querySelector(".ag-search");
  const count = root.querySelector(".ag-count");
  const zoomText = root.querySelector(".ag-zoom");
  const t0 = performance.now();

  stage.style.height = `${Number(data.height) || 640}px`;
  root.querySelector(".ag-help").textContent = data.help || "";
  host.innerHTML = data.svg; // trusted: Graphviz's output of DOT whose every name was escaped server-side
  const svg = host.querySelector("svg");
  if (!svg) return;
  svg.setAttribute("width", "100%");
  svg.setAttribute("height", "100%");
  root.classList.remove("ag-busy");
  const totals = {};
  for (const k of ["macs", "params", "activations", "elementwise"]) totals[k] = Number(svg.dataset["total" + k[0].toUpperCase() + k.slice(1)] || 0);
  drawLegend(root.querySelector(".ag-legend"), data.legend);

  // callbacks fire while the first view is being set: only after it do they record the user's view
  let ready = false;
  let mini = null;
  const pz = window.svgPanZoom(svg, {
    zoomEnabled: true, panEnabled: true, controlIconsEnabled: false, dblClickZoomEnabled: false,
    mouseWheelZoomEnabled: true, preventMouseEventsDefault: true, zoomScaleSensitivity: 0.2,
    fit: true, center: true, minZoom: 0.2, maxZoom: 1,
    onZoom: () => remember(), onPan: () => remember(),
  });
  const fitReal = pz.getSizes().realZoom; // screen px per pt when the whole graph fits
  pz.setMaxZoom(Math.max(10, (6 * READABLE) / fitReal)); // relative to the fit: let every graph reach 6x readable
  pz.setMinZoom(Math.min(0.5, 0.5 / Math.max(fitReal, 1e-6)));

  function remember() {
    if (!ready) return;
    saved.sig = data.sig;
    saved.zoom = pz.getZoom();
    saved.pan = pz.getPan();
    zoomText.textContent = `${Math.round((100 * pz.getSizes().realZoom) / READABLE)}%`;
    if (mini) mini.schedule();
  }

  function findEl(name) {
    if (!name) return null;
    return svg.querySelector(`g.node[data-name="${CSS.escape(name)}"]`) ||
      svg.querySelector(`g.cluster[data-name="${CSS.escape(name)}"]`);
  }

  // svg-pan-zoom applies a new zoom/pan on the next animation frame, so positions are computed from its state,
  // not from the DOM: an element's box in graph units, read against the transform the DOM has now
  const viewport = svg.querySelector(".svg-pan-zoom_viewport");
  // the transform the DOM has now (read, never consolidated: that would rewrite it and force a layout per box)
  function applied() {
    const list = viewport.transform.baseVal;
    return list.numberOfItems ? list.getItem(0).matrix : { a: 1, d: 1, e: 0, f: 0 };
  }
  function graphBox(g, m = applied(), s = svg.getBoundingClientRect()) {
    const r = g.getBoundingClientRect();
    return { x: (r.left - s.left - m.e) / m.a, y: (r.top - s.top - m.f) / m.d, w: r.width / m.a, h: r.height / m.d };
  }

  // show the point (fx, fy) of `box` (fractions of its size) at screen point (sx, sy) of the svg, at scale `real`
  function placeAt(box, real, sx, sy, fx = 0.5, fy = 0) {
    pz.zoom((pz.getZoom() * real) / pz.getSizes().realZoom);
    pz.pan({ x: sx - (box.x + fx * box.w) * real, y: sy - (box.y + fy * box.h) * real });
  }

  // bring an element into view at a readable scale (never zooming out when already closer)
  function reveal(g) {
    const s = svg.getBoundingClientRect();
    placeAt(graphBox(g), Math.max(READABLE, pz.getSizes().realZoom), s.width / 2, s.height / 2, 0.5, 0.5);
  }

  // first view of a graph: all of it when that is readable enough, else its start (top, or left when it runs
  // left-right) at a readable scale, fitted across
  function initialView() {
    if (fitReal >= FIT_READABLE * READABLE) return;
    const s = svg.getBoundingClientRect();
    const whole = graphBox(viewport);
    if (whole.h >= whole.w) placeAt(whole, Math.min(READABLE, (0.95 * s.width) / whole.w), s.width / 2, 12, 0.5, 0);
    else placeAt(whole, Math.min(READABLE, (0.95 * s.height) / whole.h), 12, s.height / 2, 0, 0.5);
  }

  // the selected node (or the collapsed group that holds it, or the parts of a group drawn expanded)
  const nodes = Array.from(svg.querySelectorAll("g.node, g.cluster"));
  const chosen = selectedEls(nodes, data.focus || "");
  for (const g of chosen) g.classList.add("ag-selected");
  const selected = chosen[0] || null;

  const tall = (() => {
    const whole = graphBox(viewport);
    return whole.h >= whole.w;
  })();

  const anchor = saved.anchor;
  saved.anchor = null;
  const anchored = anchor && findEl(anchor.name);
  if (saved.sig === data.sig && saved.zoom) {
    const { zoom, pan } = saved; // same structure (a knob changed): keep the user's view
    pz.zoom(zoom);
    pz.pan(pan);
  } else if (anchored) {
    placeAt(graphBox(anchored), anchor.real, anchor.x, anchor.y); // an expanded or collapsed group stays put
  } else if (selected && !saved.sig) {
    reveal(selected); // a link with focus= opens on the selected node
  } else {
    initialView();
  }
  mini = minimap(root.querySelector(".ag-mini"), svg, pz, graphBox, applied, viewport,
    fitReal < FIT_READABLE * READABLE);
  // the stage clips; a browser's find-in-page or scrollIntoView would scroll it and hide the graph's edge
  const unscroll = () => {
    stage.scrollTop = 0;
    stage.scrollLeft = 0;
  };
  stage.addEventListener("scroll", unscroll);
  ready = true;
  remember();

  // -- search ----------------------------------------------------------------
  const haystack = nodes.map((g) => [g, `${g.dataset.name || ""} ${g.dataset.op || ""} ${g.dataset.kinds || ""}`.toLowerCase()]);
  let matches = [];
  let current = -1;

  function applySearch(text) {
    saved.search = text;
    const terms = text.toLowerCase().split(/\s+/).filter(Boolean);
    matches = [];
    for (const [g, hay] of haystack) {
      const hit = terms.length > 0 && g.classList.contains("node") && terms.every((t) => hay.includes(t));
      g.classList.toggle("ag-match", hit);
      if (hit) matches.push(g);
    }
    svg.classList.toggle("ag-searching", terms.length > 0);
    current = -1;
    count.textContent = terms.length ? `${matches.length} match${matches.length === 1 ? "" : "es"}` : "";
    if (matches.length) step(1, { quiet: true });
  }

  function step(dir, { quiet = false } = {}) {
    if (!matches.length) return;
    if (current >= 0) matches[current].classList.remove("ag-current");
    current = (current + dir + matches.length) % matches.length;
    const g = matches[current];
    g.classList.add("ag-current");
    count.textContent = `${current + 1} of ${matches.length}`;
    if (!quiet || matches.length) reveal(g);
  }

  const onInput = () => applySearch(search.value);
  const onKey = (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      step(e.shiftKey ? -1 : 1);
    } else if (e.key === "Escape") {
      search.value = "";
      applySearch("");
    }
  };
  search.addEventListener("input", onInput);
  search.addEventListener("keydown", onKey);
  if (saved.search) {
    search.value = saved.search;
    applySearch(saved.search);
  }

  // -- hover, click ---------------------------------------------------------
  let press = null;
  let hovered = null;
  const target = (e) => {
    const t = e.target.closest ? e.target.closest("g.node, g.cluster") : null;
    return t && svg.contains(t) ? t : null;
  };
  const onOver = (e) => {
    const g = target(e);
    if (g === hovered) return;
    hovered = g;
    if (!g) {
      card.hidden = true;
      return;
    }
    fillCard(card, g, totals, data.latency_source);
    card.hidden = false;
    place(e);
  };
  const place = (e) => {
    if (card.hidden) return;
    const s = stage.getBoundingClientRect();
    let x = e.clientX - s.left + 14;
    let y = e.clientY - s.top + 14;
    if (x + card.offsetWidth > s.width - 4) x = Math.max(4, e.clientX - s.left - card.offsetWidth - 14);
    if (y + card.offsetHeight > s.height - 4) y = Math.max(4, e.clientY - s.top - card.offsetHeight - 14);
    card.style.transform = `translate(${x}px, ${y}px)`;
  };
  const onLeave = () => {
    hovered = null;
    card.hidden = true;
  };
  const onDown = (e) => {
    press = { x: e.clientX, y: e.clientY };
  };
  const onClick = (e) => {
    if (!press || Math.hypot(e.clientX - press.x, e.clientY - press.y) > CLICK_SLOP) return;
    const g = target(e);
    if (!g) {
      if (data.focus) setTriggerValue("click", { action: "clear", name: "" });
      return;
    }
    const name = g.dataset.name;
    if (!name || g.dataset.kind === "input") return;
    const toggle = g.classList.contains("cluster") || g.dataset.expandable === "1";
    if (toggle) {
      const r = g.getBoundingClientRect();
      const s = svg.getBoundingClientRect();
      saved.anchor = { name, x: r.left + r.width / 2 - s.left, y: r.top - s.top, real: pz.getSizes().realZoom,
        at: performance.now() };
      g.classList.add("ag-pending");
      root.classList.add("ag-busy");
    }
    setTriggerValue("click", { action: toggle ? "toggle" : "select", name });
  };
  // Shift+wheel (and a trackpad's sideways swipe) pans; a plain wheel zooms (svg-pan-zoom's own listener)
  const onWheel = (e) => {
    const sideways = Math.abs(e.deltaX) > Math.abs(e.deltaY);
    if (!e.shiftKey && !sideways) return;
    e.preventDefault();
    e.stopPropagation();
    // Chromium turns Shift+wheel into deltaX: either way Shift pans along the graph's length
    const d = -(e.deltaY || e.deltaX);
    pz.panBy(!e.shiftKey ? { x: -e.deltaX, y: 0 } : tall ? { x: 0, y: d } : { x: d, y: 0 });
  };
  host.addEventListener("wheel", onWheel, { capture: true, passive: false });
  svg.addEventListener("mouseover", onOver);
  svg.addEventListener("mousemove", place);
  svg.addEventListener("mouseleave", onLeave);
  svg.addEventListener("mousedown", onDown);
  svg.addEventListener("click", onClick);

  // -- toolbar --------------------------------------------------------------
  const buttons = {
    ".ag-in": () => pz.zoomIn(),
    ".ag-out": () => pz.zoomOut(),
    ".ag-fit": () => {
      pz.fit();
      pz.center();
    },
    ".ag-reset": () => {
      pz.reset();
      initialView();
    },
    ".ag-prev": () => step(-1),
    ".ag-next": () => step(1),
  };
  const bound = [];
  for (const [sel, fn] of Object.entries(buttons)) {
    const b = root.querySelector(sel);
    if (b) {
      b.addEventListener("click", fn);
      bound.push([b, fn]);
    }
  }

  // what a test or benchmark reads: when the graph was drawn and how long it took
  requestAnimationFrame(() => {
    const info = { view, sig: data.sig, nodes: svg.querySelectorAll("g.node").length, ms: performance.now() - t0,
      at: performance.now(), clickToDrawn: anchor ? performance.now() - anchor.at : null };
    window.__archlibGraphDrawn = Object.assign(window.__archlibGraphDrawn || {}, { [view]: info });
    root.dataset.drawn = String(info.at);
  });

  const cleanup = () => {
    root.__agCleanup = null;
    ready = false; // svg-pan-zoom's destroy resets the view and reports it: not the user's view
    host.removeEventListener("wheel", onWheel, { capture: true });
    stage.removeEventListener("scroll", unscroll);
    svg.removeEventListener("mouseover", onOver);
    svg.removeEventListener("mousemove", place);
    svg.removeEventListener("mouseleave", onLeave);
    svg.removeEventListener("mousedown", onDown);
    svg.removeEventListener("click", onClick);
    search.removeEventListener("input", onInput);
    search.removeEventListener("keydown", onKey);
    for (const [b, fn] of bound) b.removeEventListener("click", fn);
    if (mini) mini.destroy();
    pz.destroy();
  };
  root.__agCleanup = cleanup;
  return cleanup;
}

// An overview of a graph too big to read whole: every box as a coloured bar along the graph's length, the part
// on screen framed; press or drag on it to go there.
function minimap(canvas, svg, pz, graphBox, applied, viewport, wanted) {
  if (!canvas) return null;
  canvas.hidden = !wanted;
  if (!wanted) return null;
  const whole = graphBox(viewport);
  const tall = whole.h >= whole.w;
  canvas.className = "ag-mini " + (tall ? "ag-mini-v" : "ag-mini-h");
  const m = applied();
  const s = svg.getBoundingClientRect();
  const boxes = Array.from(svg.querySelectorAll("g.node")).map((g) => {
    const shape = g.querySelector("path, polygon");
    return [graphBox(g, m, s), (shape && shape.getAttribute("fill")) || "#cccccc"];
  });
  const dpr = window.devicePixelRatio || 1;
  const cw = canvas.clientWidth;
  const ch = canvas.clientHeight;
  canvas.width = Math.round(cw * dpr);
  canvas.height = Math.round(ch * dpr);
  const ctx = canvas.getContext("2d");
  ctx.scale(dpr, dpr);
  const sx = cw / whole.w;
  const sy = ch / whole.h;
  const base = document.createElement("canvas");
  base.width = canvas.width;
  base.height = canvas.height;
  const bctx = base.getContext("2d");
  bctx.scale(dpr, dpr);
  for (const [b, fill] of boxes) {
    bctx.fillStyle = fill;
    bctx.fillRect((b.x - whole.x) * sx, (b.y - whole.y) * sy, Math.max(1, b.w * sx), Math.max(1, b.h * sy));
  }
  let pending = false;
  function draw() {
    pending = false;
    const real = pz.getSizes().realZoom;
    const pan = pz.getPan();
    const s = svg.getBoundingClientRect();
    ctx.clearRect(0, 0, cw, ch);
    ctx.drawImage(base, 0, 0, cw, ch);
    ctx.strokeStyle = "#1c64f2";
    ctx.lineWidth = 2;
    ctx.fillStyle = "rgba(28, 100, 242, 0.12)";
    const x = (-pan.x / real - whole.x) * sx;
    const y = (-pan.y / real - whole.y) * sy;
    const w = (s.width / real) * sx;
    const h = (s.height / real) * sy;
    ctx.fillRect(x, y, w, h);
    ctx.strokeRect(x, y, w, h);
  }
  function go(e) {
    const r = canvas.getBoundingClientRect();
    const gx = whole.x + (e.clientX - r.left) / sx;
    const gy = whole.y + (e.clientY - r.top) / sy;
    const real = pz.getSizes().realZoom;
    const s = svg.getBoundingClientRect();
    pz.pan({ x: s.width / 2 - gx * real, y: s.height / 2 - gy * real });
  }
  let dragging = false;
  const down = (e) => {
    dragging = true;
    e.preventDefault();
    go(e);
  };
  const move = (e) => dragging && go(e);
  const up = () => (dragging = false);
  canvas.addEventListener("mousedown", down);
  window.addEventListener("mousemove", move);
  window.addEventListener("mouseup", up);
  draw();
  return {
    schedule() {
      if (!pending) {
        pending = true;
        requestAnimationFrame(draw);
      }
    },
    destroy() {
      canvas.removeEventListener("mousedown", down);
      window.removeEventListener("mousemove", move);
      window.removeEventListener("mouseup", up);
    },
  };
}

function drawLegend(box, legend) {
  if (!box) return;
  box.replaceChildren();
  if (!legend || !legend.classes) return;
  box.append(el("div", "ag-legend-title", legend.title));
  const bar = el("div", "ag-legend-bar");
  for (const c of legend.classes) {
    const cell = el("span", "ag-legend-cell");
    cell.style.background = c.color;
    cell.title = c.range;
    bar.append(cell);
  }
  box.append(bar);
  const ticks = el("div", "ag-legend-ticks");
  ticks.append(el("span", "", legend.low), el("span", "", legend.mid), el("span", "", legend.high));
  box.append(ticks);
}
