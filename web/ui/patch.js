// The patch as a grid, per output: each universe it sends as a row of its 512 slots, each run
// of slots coloured by the canvas that fills it and named by fixture and pixels
// (GET /api/patch, the patch.grid operation).
import { api } from "./api.js";

const SLOTS = 512;
// One colour per canvas, in show order (the legend says which).
const PALETTE = ["#3d8bfd", "#e0a800", "#1f9d55", "#d63384", "#20c997", "#fd7e14", "#6f42c1", "#adb5bd"];

export async function mount(main, ui) {
  const { el } = ui;
  const [grid, canvases] = await Promise.all([api("GET", "/api/patch"), api("GET", "/api/canvases")]);
  const colours = new Map(canvases.canvases.map((c, i) => [c.name, PALETTE[i % PALETTE.length]]));
  const paint = (node, colour) => {
    node.style.background = colour;
    return node;
  }; // CSSOM: the CSP allows it

  const legend = el(
    "div",
    { class: "row legend" },
    ...[...colours].map(([name, colour]) =>
      el("span", { class: "row", "data-legend": name }, paint(el("span", { class: "swatch" }), colour), name)
    )
  );
  const scale = () =>
    el(
      "div",
      { class: "slots scale" },
      ...[1, 128, 256, 384, 512].map((ch) => {
        const mark = el("span", { class: ch === SLOTS ? "end" : "" }, String(ch));
        mark.style.left = `${(100 * (ch - 1)) / SLOTS}%`;
        return mark;
      })
    );
  const cell = (u, c) => {
    const pixels = c.pixels[0] === c.pixels[1] ? `pixel ${c.pixels[0]}` : `pixels ${c.pixels[0]}–${c.pixels[1]}`;
    const node = el(
      "span",
      {
        class: "cell",
        "data-canvas": c.canvas,
        "data-fixture": c.fixture,
        "data-first": c.first,
        "data-last": c.last,
        title: `universe ${u} channels ${c.first}–${c.last}: ${c.canvas} · ${c.fixture} · ${pixels}`,
      },
      el("span", {}, `${c.fixture} · ${pixels} · ch ${c.first}–${c.last}`)
    );
    Object.assign(node.style, {
      left: `${(100 * (c.first - 1)) / SLOTS}%`,
      width: `${(100 * (c.last - c.first + 1)) / SLOTS}%`,
    });
    return paint(node, colours.get(c.canvas) || "#555");
  };
  const row = ({ universe, cells }) =>
    el(
      "tr",
      { "data-universe": universe },
      el("th", {}, `U ${universe}`),
      el(
        "td",
        {},
        el(
          "div",
          { class: "slots" },
          ...cells.map((c) => cell(universe, c)),
          cells.length ? null : el("span", { class: "dim" }, "nothing patched")
        )
      )
    );
  const outputs = grid.outputs.map((o) =>
    el(
      "section",
      { class: "panel patch-output", "data-output": o.name },
      el("h2", {}, `${o.name} `, el("span", { class: "dim" }, `${o.protocol} · ${o.universes.length} universes`)),
      el(
        "table",
        { class: "patch-grid" },
        el("thead", {}, el("tr", {}, el("th", {}, "universe"), el("th", {}, scale()))),
        el("tbody", {}, o.universes.map(row))
      )
    )
  );
  const unsent = grid.unsent.length
    ? el(
        "section",
        { class: "panel", id: "unsent" },
        el(
          "details",
          {},
          el("summary", {}, `${grid.unsent.length} patched universes no output sends`),
          el("p", { class: "dim" }, grid.unsent.join(", "))
        )
      )
    : null;
  main.replaceChildren(
    el(
      "section",
      { class: "panel" },
      el("h2", {}, "Patch grid"),
      el(
        "p",
        { class: "dim" },
        "Per output, each universe's 512 slots: which canvas and fixture (and which of its pixels) fill them."
      ),
      legend
    ),
    ...(outputs.length ? outputs : [el("p", { class: "panel dim" }, "No outputs are configured ([[outputs]]).")]),
    unsent
  );
  return { stop() {} };
}
