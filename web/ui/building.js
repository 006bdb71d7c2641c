// The building view: the show's canvases where they sit on the building's elevation drawing
// (each canvas's `placement` in the show file), live at the preview rate. A click opens the
// canvas's panel: who holds it, park / release, why it is this colour (canvas_panel.js).
import { api, Live } from "./api.js";
import { canvasPanel } from "./canvas_panel.js";
import { previewCanvas } from "./preview.js";

const PREVIEW_FPS = 10; // the show page's rate

export async function mount(main, ui) {
  const { el } = ui;
  const live = new Live();
  const canvases = (await api("GET", "/api/canvases")).canvases;
  let state = await api("GET", "/api/playback");
  const lookNames = (await api("GET", "/api/looks?limit=1000")).items.map((l) => l.name);
  const placed = canvases.filter((c) => c.placement);
  const unplaced = canvases.filter((c) => !c.placement);

  // The drawing spans every placement (building units, y down from the top-left corner).
  const margin = 1;
  const right = Math.max(1, ...placed.map((c) => c.placement.x + c.placement.width)) + margin;
  const bottom = Math.max(1, ...placed.map((c) => c.placement.y + c.placement.height)) + margin;
  const drawing = el("div", { class: "elevation", id: "elevation", "data-width": right, "data-height": bottom });
  drawing.style.aspectRatio = `${right} / ${bottom}`;

  const tiles = new Map();
  let open = null; // the canvas panel shown, {name, panel}
  const side = el(
    "div",
    { id: "canvas-inspector" },
    el("p", { class: "dim panel" }, "Click a canvas to see who holds it, park it, or why it is this colour.")
  );
  const select = (c) => {
    const panel = canvasPanel(ui, c.name, c.description, lookNames);
    open = { name: c.name, panel };
    for (const [n, t] of tiles) t.classList.toggle("selected", n === c.name);
    panel.update(state);
    side.replaceChildren(panel.node);
  };
  const tile = (c) => {
    const badge = el("span", { class: "badge" });
    const t = el(
      "button",
      {
        type: "button",
        class: "placed",
        "data-canvas": c.name,
        title: c.description || c.name,
        onclick: () => select(c),
      },
      previewCanvas(el, live, c.name),
      el("span", { class: "name" }, c.name),
      badge
    );
    tiles.set(c.name, t);
    return t;
  };
  for (const c of placed) {
    const t = tile(c);
    const p = c.placement;
    // Positions in per cent of the drawing, through the CSSOM (the CSP forbids style attributes).
    Object.assign(t.style, {
      left: `${(100 * p.x) / right}%`,
      top: `${(100 * p.y) / bottom}%`,
      width: `${(100 * p.width) / right}%`,
      height: `${(100 * p.height) / bottom}%`,
    });
    drawing.append(t);
  }
  const loose = unplaced.length
    ? el(
        "section",
        { class: "panel" },
        el("h2", {}, "Not on the drawing"),
        el("p", { class: "dim" }, "These canvases have no placement in the show file ([canvases.placement])."),
        el("div", { class: "previews" }, ...unplaced.map(tile))
      )
    : null;

  // What holds each canvas, on its tile: the top of its ladder.
  const renderTiles = () => {
    for (const [name, t] of tiles) {
      const top = ((state.ladder || {})[name] || [])[0];
      const level = top ? top.level : "";
      t.dataset.level = level;
      t.querySelector(".badge").textContent = ["emergency", "park", "override"].includes(level)
        ? level.toUpperCase()
        : "";
    }
  };
  live.on("canvas:update", (s) => {
    state = s;
    renderTiles();
    if (open) open.panel.update(state);
  });
  live.setPreview(
    canvases.map((c) => c.name),
    PREVIEW_FPS
  );
  live.connect();
  renderTiles();
  main.replaceChildren(
    el("div", { class: "building" }, el("section", { class: "panel" }, el("h2", {}, "Building"), drawing), side),
    ...(loose ? [loose] : [])
  );
  return {
    stop() {
      live.close();
    },
  };
}
