// The live graph's parts (loaded before graph.js, in one module): the hover card, the legend, the selection,
// the geometry of pan and zoom, and the overview strip.
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

// Where things are: svg-pan-zoom applies a new zoom/pan on the next animation frame, so positions are computed
// from its state, not from the DOM, and boxes are read against the transform the DOM has now.
function geometry(svg, pz) {
  const viewport = svg.querySelector(".svg-pan-zoom_viewport");
  // read, never consolidated: consolidating rewrites the transform and forces a layout per box
  const applied = () => {
    const list = viewport.transform.baseVal;
    return list.numberOfItems ? list.getItem(0).matrix : { a: 1, d: 1, e: 0, f: 0 };
  };
  const box = (g, m = applied(), s = svg.getBoundingClientRect()) => {
    const r = g.getBoundingClientRect();
    return { x: (r.left - s.left - m.e) / m.a, y: (r.top - s.top - m.f) / m.d, w: r.width / m.a, h: r.height / m.d };
  };
  // show the point (fx, fy) of `b` (fractions of its size) at the svg's point (sx, sy), at scale `real`
  const placeAt = (b, real, sx, sy, fx = 0.5, fy = 0) => {
    pz.zoom((pz.getZoom() * real) / pz.getSizes().realZoom);
    pz.pan({ x: sx - (b.x + fx * b.w) * real, y: sy - (b.y + fy * b.h) * real });
  };
  const whole = () => box(viewport);
  return { applied, box, placeAt, whole, size: () => svg.getBoundingClientRect() };
}

// An overview of a graph too big to read whole: every box as a coloured bar along the graph's length, the part
// on screen framed; press or drag on it to go there.
function minimap(canvas, svg, pz, geo, wanted) {
  if (!canvas) return null;
  canvas.hidden = !wanted;
  if (!wanted) return null;
  const whole = geo.whole();
  const tall = whole.h >= whole.w;
  canvas.className = "ag-mini " + (tall ? "ag-mini-v" : "ag-mini-h");
  const m = geo.applied();
  const s = geo.size();
  const boxes = Array.from(svg.querySelectorAll("g.node")).map((g) => {
    const shape = g.querySelector("path, polygon");
    return [geo.box(g, m, s), (shape && shape.getAttribute("fill")) || "#cccccc"];
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
