// Edit mode, looks: each canvas's layer stack edited through forms made from the source
// schemas (GET /api/sources), saved with PUT /api/looks/{name}, and shown as a blind preview.
import { api } from "./api.js";
import { blindPreview } from "./blind.js";
import { paramControl } from "./look_params.js";

const BLENDS = ["normal", "add", "multiply", "screen", "max"];

// `looks`: the stored looks' headers (kept up to date here); `canvases`: the canvas names.
export async function mountLooks(panel, ui, looks, canvases) {
  const { el, toast, report, can, confirmAction } = ui;
  const edited = ui.edited || (() => {}); // tells the Undo button (undo.js) of a saved edit
  const editable = can("show.edit");
  const sources = (await api("GET", "/api/sources")).sources;
  const kinds = Object.keys(sources).sort();
  let assets = null;
  try {
    assets = (await api("GET", "/api/content?status=approved&limit=1000")).items;
  } catch (e) {
    report(e);
  } // asset layers then take an id by number
  const fixtures = {}; // canvas → fixture names, fetched when a fixture parameter needs them
  async function fixturesOf(canvas) {
    if (!fixtures[canvas]) {
      try {
        fixtures[canvas] = (await api("GET", `/api/canvases/${encodeURIComponent(canvas)}/patch`)).fixtures.map(
          (f) => f.name
        );
      } catch (e) {
        report(e);
        fixtures[canvas] = [];
      }
    }
    return fixtures[canvas];
  }

  let lookName = looks.length ? looks[0].name : "";
  let look = { name: "", canvases: [] };
  let dirty = false;
  let draws = 0;
  const problems = el("ul", { id: "look-problems", class: "problems" });
  const stacks = el("div", { class: "layers" });
  // The preview is an editing tool (show.edit): a role that may only look is not offered it.
  const preview = editable
    ? blindPreview(el, report, () => look)
    : {
        node: el("p", { class: "dim", id: "blind-preview" }, "The blind preview is for roles that may edit looks."),
        refresh() {},
        stop() {},
      };
  const changed = () => {
    dirty = true;
    preview.refresh();
  };

  function showProblems(e) {
    const lines = (e && e.body && e.body.problems) || [e && e.message ? e.message : String(e)];
    problems.replaceChildren(...lines.map((p) => el("li", {}, p)));
  }

  function layerForm(stack, layer, i, fixtureNames) {
    const spec = sources[layer.source];
    layer.params = layer.params || {};
    const move = (to) => {
      const [moved] = stack.layers.splice(i, 1);
      stack.layers.splice(to, 0, moved);
      changed();
      draw();
    };
    const source = el(
      "select",
      {
        "data-field": "source",
        disabled: !editable,
        onchange: (ev) => {
          // Keep the parameters the new kind also has; the others would be refused.
          const next = sources[ev.target.value];
          layer.source = ev.target.value;
          layer.params = Object.fromEntries(Object.entries(layer.params).filter(([k]) => next && k in next.params));
          changed();
          draw();
        },
      },
      ...(spec ? [] : [el("option", { selected: true }, layer.source)]),
      ...kinds.map((k) => el("option", { value: k, selected: k === layer.source }, k))
    );
    const blend = el(
      "select",
      {
        "data-field": "blend",
        disabled: !editable,
        onchange: (ev) => {
          layer.blend = ev.target.value;
          changed();
        },
      },
      ...BLENDS.map((b) => el("option", { selected: b === (layer.blend || "normal") }, b))
    );
    const opacity = el("input", {
      "data-field": "opacity",
      type: "number",
      min: 0,
      max: 1,
      step: 0.05,
      value: layer.opacity ?? 1,
      disabled: !editable,
      oninput: (ev) => {
        layer.opacity = ev.target.value === "" ? 1 : Number(ev.target.value);
        changed();
      },
    });
    const ctx = { el, assets, fixtures: fixtureNames };
    const params = spec
      ? Object.entries(spec.params).map(([name, p]) => paramControl(name, p, layer.params, ctx, changed))
      : [el("span", { class: "dim" }, `unknown source "${layer.source}"`)];
    if (!editable)
      for (const c of params) for (const i2 of c.querySelectorAll("input, select, button")) i2.disabled = true;
    const button = (act, text, title, disabled, onclick) =>
      el("button", { type: "button", "data-act": act, title, disabled: !editable || disabled, onclick }, text);
    return el(
      "div",
      { class: "layer", "data-layer": `${stack.canvas}:${i}` },
      el(
        "div",
        { class: "row" },
        el("strong", {}, `${i + 1}`),
        el("label", {}, "source", source),
        el("label", {}, "blend", blend),
        el("label", {}, "opacity", opacity),
        button("up", "↑", "move up (drawn earlier, under)", i === 0, () => move(i - 1)),
        button("down", "↓", "move down (drawn later, over)", i === stack.layers.length - 1, () => move(i + 1)),
        button("remove", "Remove", "remove this layer", false, () => {
          stack.layers.splice(i, 1);
          changed();
          draw();
        })
      ),
      spec ? el("div", { class: "dim summary" }, spec.summary) : null,
      el("div", { class: "row params" }, ...params)
    );
  }

  async function draw() {
    const needFixtures = (stack) =>
      stack.layers.some(
        (l) => sources[l.source] && Object.values(sources[l.source].params).some((p) => p.type === "fixture")
      );
    const names = {};
    const mine = ++draws;
    for (const stack of look.canvases) names[stack.canvas] = needFixtures(stack) ? await fixturesOf(stack.canvas) : [];
    if (mine !== draws) return; // a later edit redraws (two draws would both append)
    stacks.replaceChildren();
    for (const stack of look.canvases) {
      stacks.append(
        el(
          "div",
          { class: "stack", "data-canvas": stack.canvas },
          el(
            "div",
            { class: "row" },
            el("h3", {}, stack.canvas),
            el("span", { class: "dim" }, "layers from bottom to top"),
            el(
              "button",
              {
                type: "button",
                "data-act": "remove-canvas",
                disabled: !editable,
                onclick: () => {
                  look.canvases.splice(look.canvases.indexOf(stack), 1);
                  changed();
                  draw();
                },
              },
              "Remove canvas"
            )
          ),
          ...stack.layers.map((layer, i) => layerForm(stack, layer, i, names[stack.canvas])),
          el(
            "button",
            {
              type: "button",
              "data-act": "add-layer",
              disabled: !editable,
              onclick: () => {
                stack.layers.push({ source: "solid", blend: "normal", opacity: 1, params: { colour: "#ffffff" } });
                changed();
                draw();
              },
            },
            "Add layer"
          )
        )
      );
    }
    const missing = canvases.filter((c) => !look.canvases.some((s) => s.canvas === c));
    if (missing.length) {
      stacks.append(
        el(
          "div",
          { class: "row" },
          el("span", { class: "dim" }, "Add canvas:"),
          ...missing.map((c) =>
            el(
              "button",
              {
                type: "button",
                "data-add-canvas": c,
                disabled: !editable,
                onclick: () => {
                  look.canvases.push({ canvas: c, layers: [{ source: "solid", params: { colour: "#000000" } }] });
                  changed();
                  draw();
                },
              },
              c
            )
          )
        )
      );
    }
  }

  async function showLook() {
    look = lookName ? await api("GET", `/api/looks/${encodeURIComponent(lookName)}`) : { name: "", canvases: [] };
    dirty = false;
    problems.replaceChildren();
    const picker = el(
      "select",
      {
        id: "look",
        onchange: async (ev) => {
          if (dirty && !(await confirmAction(`Discard the unsaved changes to look ${look.name}?`))) {
            ev.target.value = lookName;
            return;
          }
          lookName = ev.target.value;
          await showLook();
        },
      },
      ...looks.map((l) => el("option", { selected: l.name === lookName }, l.name))
    );
    const label = el("input", {
      id: "look-label",
      value: look.label || "",
      placeholder: "label",
      disabled: !editable,
      oninput: (ev) => {
        look.label = ev.target.value;
        dirty = true;
      },
    });
    const save = el(
      "button",
      {
        type: "button",
        id: "save-look",
        disabled: !editable || !lookName,
        onclick: async () => {
          try {
            await api("PUT", `/api/looks/${encodeURIComponent(look.name)}`, look);
            dirty = false;
            problems.replaceChildren();
            toast(`Look ${look.name} saved`);
            edited();
          } catch (e) {
            showProblems(e);
            report(e);
          } // the form keeps every edit
        },
      },
      "Save look"
    );
    const newName = el("input", { id: "new-look", placeholder: "new look name" });
    const create = el(
      "button",
      {
        type: "button",
        id: "create-look",
        disabled: !editable,
        onclick: async () => {
          const name = newName.value.trim();
          if (!name) return report("name: give the new look a name");
          const fresh = {
            name,
            canvases: [{ canvas: canvases[0], layers: [{ source: "solid", params: { colour: "#ffffff" } }] }],
          };
          try {
            await api("PUT", `/api/looks/${encodeURIComponent(name)}`, fresh);
            looks.push({ name });
            lookName = name;
            toast(`Look ${name} created`);
            edited();
            await showLook();
          } catch (e) {
            report(e);
          }
        },
      },
      "New look"
    );
    panel.replaceChildren(
      el("h2", {}, "Looks"),
      el("div", { class: "row" }, picker, label, save, newName, create),
      problems,
      preview.node,
      stacks
    );
    await draw();
    preview.refresh();
  }

  await showLook();
  return { stop: preview.stop };
}
