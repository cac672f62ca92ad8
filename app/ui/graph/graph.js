// The live block graph: Graphviz's SVG in the page with pan and zoom (svg-pan-zoom, vendored, loaded first),
// hover details, click to expand/collapse or select, search, a colour legend (parts in view.js).

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  const root = parentElement.querySelector(".ag-root");
  if (!root || !data) return undefined;
  // Streamlit keeps the component's DOM when only its data changes and does not always run the returned
  // cleanup first: the previous drawing's listeners and pan-zoom are torn down here
  if (root.__agCleanup) root.__agCleanup();
  const t0 = performance.now();
  const svg = insert(root, data);
  if (!svg) return undefined;
  const offs = [];
  const ctx = {
    root, data, svg, setTriggerValue, t0,
    saved: (STORE[String(data.view || "graph")] = STORE[String(data.view || "graph")] || {}),
    stage: root.querySelector(".ag-stage"),
    listen(target, type, fn, opts) {
      target.addEventListener(type, fn, opts);
      offs.push(() => target.removeEventListener(type, fn, opts));
    },
  };
  const view = createView(ctx);
  const search = wireSearch(ctx, view);
  wirePointer(ctx, view);
  wireToolbar(ctx, view, search);
  reportDrawn(ctx, view);
  const cleanup = () => {
    root.__agCleanup = null;
    for (const off of offs) off();
    view.destroy();
  };
  root.__agCleanup = cleanup;
  return cleanup;
}

// the SVG into the page, sized to fill the stage; the legend and help beside it
function insert(root, data) {
  root.querySelector(".ag-stage").style.height = `${Number(data.height) || 640}px`;
  root.querySelector(".ag-help").textContent = data.help || "";
  const host = root.querySelector(".ag-svg");
  host.innerHTML = data.svg; // trusted: Graphviz's output of DOT whose every name was escaped server-side
  const svg = host.querySelector("svg");
  if (!svg) return null;
  svg.setAttribute("width", "100%");
  svg.setAttribute("height", "100%");
  root.classList.remove("ag-busy");
  drawLegend(root.querySelector(".ag-legend"), data.legend);
  return svg;
}

// pan and zoom, the first view (kept, anchored, on the selection, or the start), the overview strip
function createView(ctx) {
  const { root, data, svg, saved, stage } = ctx;
  let ready = false; // svg-pan-zoom reports views while it sets up and on destroy: those are not the user's
  let mini = null;
  const zoomText = root.querySelector(".ag-zoom");
  const remember = () => {
    if (!ready) return;
    Object.assign(saved, { sig: data.sig, zoom: pz.getZoom(), pan: pz.getPan() });
    zoomText.textContent = `${Math.round((100 * pz.getSizes().realZoom) / READABLE)}%`;
    if (mini) mini.schedule();
  };
  const pz = window.svgPanZoom(svg, {
    zoomEnabled: true, panEnabled: true, controlIconsEnabled: false, dblClickZoomEnabled: false,
    mouseWheelZoomEnabled: true, preventMouseEventsDefault: true, zoomScaleSensitivity: 0.2,
    fit: true, center: true, minZoom: 0.2, maxZoom: 1, onZoom: remember, onPan: remember,
  });
  const fitReal = pz.getSizes().realZoom; // screen px per pt when the whole graph fits
  pz.setMaxZoom(Math.max(10, (6 * READABLE) / fitReal)); // relative to the fit: every graph reaches 6x readable
  pz.setMinZoom(Math.min(0.5, 0.5 / Math.max(fitReal, 1e-6)));
  const geo = geometry(svg, pz);
  const big = fitReal < FIT_READABLE * READABLE;
  const whole0 = geo.whole();
  const view = {
    pz, geo, ready: () => ready, tall: whole0.h >= whole0.w,
    nodes: Array.from(svg.querySelectorAll("g.node, g.cluster")),
    // bring an element into view at a readable scale (never zooming out when already closer)
    reveal(g) {
      const s = geo.size();
      geo.placeAt(geo.box(g), Math.max(READABLE, pz.getSizes().realZoom), s.width / 2, s.height / 2, 0.5, 0.5);
    },
    // all of the graph when that is readable, else its start (top, or left for left-right) fitted across
    initial() {
      if (!big) return;
      const s = geo.size();
      const w = geo.whole();
      if (view.tall) geo.placeAt(w, Math.min(READABLE, (0.95 * s.width) / w.w), s.width / 2, 12, 0.5, 0);
      else geo.placeAt(w, Math.min(READABLE, (0.95 * s.height) / w.h), 12, s.height / 2, 0, 0.5);
    },
    destroy() {
      ready = false;
      if (mini) mini.destroy();
      pz.destroy();
    },
  };
  firstView(ctx, view);
  mini = minimap(root.querySelector(".ag-mini"), svg, pz, geo, big);
  // the stage clips; a browser's find-in-page or scrollIntoView would scroll it and hide the graph's edge
  ctx.listen(stage, "scroll", () => {
    stage.scrollTop = 0;
    stage.scrollLeft = 0;
  });
  ready = true;
  remember();
  return view;
}

function firstView(ctx, view) {
  const { data, saved } = ctx;
  const { pz, geo } = view;
  const chosen = selectedEls(view.nodes, data.focus || ""); // the selection, or what shows it
  for (const g of chosen) g.classList.add("ag-selected");
  const anchor = saved.anchor;
  saved.anchor = null;
  view.anchor = anchor;
  const find = (name) => view.nodes.find((g) => g.dataset.name === name && g.classList.contains("node")) ||
    view.nodes.find((g) => g.dataset.name === name);
  const anchored = anchor && find(anchor.name);
  if (saved.sig === data.sig && saved.zoom) {
    const { zoom, pan } = saved; // same boxes (a knob changed): keep the user's view
    pz.zoom(zoom);
    pz.pan(pan);
  } else if (anchored) {
    geo.placeAt(geo.box(anchored), anchor.real, anchor.x, anchor.y); // an expanded/collapsed group stays put
  } else if (chosen.length && !saved.sig) {
    view.reveal(chosen[0]); // a link with focus= opens on the selection
  } else {
    view.initial();
  }
}

// search by name or operator: matches outlined, the rest dimmed, Enter/Shift+Enter step through them
function wireSearch(ctx, view) {
  const { root, svg, saved, listen } = ctx;
  const input = root.querySelector(".ag-search");
  const count = root.querySelector(".ag-count");
  const hay = view.nodes.map((g) => [g, `${g.dataset.name || ""} ${g.dataset.op || ""} ${g.dataset.kinds || ""}`
    .toLowerCase()]);
  let matches = [];
  let current = -1;
  const step = (dir) => {
    if (!matches.length) return;
    if (current >= 0) matches[current].classList.remove("ag-current");
    current = (current + dir + matches.length) % matches.length;
    matches[current].classList.add("ag-current");
    count.textContent = `${current + 1} of ${matches.length}`;
    view.reveal(matches[current]);
  };
  const apply = (text) => {
    saved.search = text;
    const terms = text.toLowerCase().split(/\s+/).filter(Boolean);
    matches = [];
    for (const [g, h] of hay) {
      const hit = terms.length > 0 && g.classList.contains("node") && terms.every((t) => h.includes(t));
      g.classList.toggle("ag-match", hit);
      if (hit) matches.push(g);
    }
    svg.classList.toggle("ag-searching", terms.length > 0);
    current = -1;
    count.textContent = terms.length ? `${matches.length} match${matches.length === 1 ? "" : "es"}` : "";
    step(1);
  };
  listen(input, "input", () => apply(input.value));
  listen(input, "keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      step(e.shiftKey ? -1 : 1);
    } else if (e.key === "Escape") {
      input.value = "";
      apply("");
    }
  });
  if (saved.search) {
    input.value = saved.search;
    apply(saved.search);
  }
  return { step };
}

// hover: the card; click: expand/collapse a group (and select it), select an op, clear on the background
function wirePointer(ctx, view) {
  const { root, data, svg, saved, stage, listen, setTriggerValue } = ctx;
  const card = root.querySelector(".ag-card");
  const totals = {};
  for (const k of ["macs", "params", "activations", "elementwise"]) {
    totals[k] = Number(svg.dataset["total" + k[0].toUpperCase() + k.slice(1)] || 0);
  }
  let press = null;
  let hovered = null;
  const target = (e) => {
    const t = e.target.closest ? e.target.closest("g.node, g.cluster") : null;
    return t && svg.contains(t) ? t : null;
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
  listen(svg, "mouseover", (e) => {
    const g = target(e);
    if (g === hovered) return;
    hovered = g;
    card.hidden = !g;
    if (!g) return;
    fillCard(card, g, totals, data.latency_source);
    place(e);
  });
  listen(svg, "mousemove", place);
  listen(svg, "mouseleave", () => {
    hovered = null;
    card.hidden = true;
  });
  listen(svg, "mousedown", (e) => {
    press = { x: e.clientX, y: e.clientY };
  });
  listen(svg, "click", (e) => {
    if (!press || Math.hypot(e.clientX - press.x, e.clientY - press.y) > CLICK_SLOP) return; // a drag
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
      const s = view.geo.size();
      saved.anchor = { name, x: r.left + r.width / 2 - s.left, y: r.top - s.top, real: view.pz.getSizes().realZoom,
        at: performance.now() };
      g.classList.add("ag-pending");
      root.classList.add("ag-busy");
    }
    setTriggerValue("click", { action: toggle ? "toggle" : "select", name });
  });
  // Shift+wheel (and a trackpad's sideways swipe) pans; a plain wheel zooms (svg-pan-zoom's own listener).
  // Chromium turns Shift+wheel into deltaX: either way Shift pans along the graph's length.
  listen(svg.parentElement, "wheel", (e) => {
    if (!e.shiftKey && Math.abs(e.deltaX) <= Math.abs(e.deltaY)) return;
    e.preventDefault();
    e.stopPropagation();
    const d = -(e.deltaY || e.deltaX);
    view.pz.panBy(!e.shiftKey ? { x: -e.deltaX, y: 0 } : view.tall ? { x: 0, y: d } : { x: d, y: 0 });
  }, { capture: true, passive: false });
}

function wireToolbar(ctx, view, search) {
  const { pz } = view;
  const buttons = {
    ".ag-in": () => pz.zoomIn(),
    ".ag-out": () => pz.zoomOut(),
    ".ag-fit": () => {
      pz.fit();
      pz.center();
    },
    ".ag-reset": () => {
      pz.reset();
      view.initial();
    },
    ".ag-prev": () => search.step(-1),
    ".ag-next": () => search.step(1),
  };
  for (const [sel, fn] of Object.entries(buttons)) {
    const b = ctx.root.querySelector(sel);
    if (b) ctx.listen(b, "click", fn);
  }
}

// what a test or benchmark reads: when the graph was on screen and how long drawing it took
function reportDrawn(ctx, view) {
  const { root, data, svg, t0 } = ctx;
  requestAnimationFrame(() => {
    const now = performance.now();
    const info = { view: data.view, sig: data.sig, nodes: svg.querySelectorAll("g.node").length, ms: now - t0,
      at: now, clickToDrawn: view.anchor ? now - view.anchor.at : null };
    window.__archlibGraphDrawn = Object.assign(window.__archlibGraphDrawn || {}, { [data.view]: info });
    root.dataset.drawn = String(now);
  });
}
