// Edit mode: the cues of a cue list and the layers of a look.
import { api } from "./api.js";

const CURVES = ["linear", "s-curve", "ease-in", "ease-out", "snap"];
const BLENDS = ["normal", "add", "multiply", "screen", "max"];
const HEX = /^#[0-9a-fA-F]{6}$/;

export async function mount(main, ui) {
  const { el, toast, report, can, confirmAction } = ui;
  const editable = can("show.edit");
  const lists = (await api("GET", "/api/cue-lists?limit=100")).items;
  const looks = (await api("GET", "/api/looks?limit=1000")).items;
  const canvases = (await api("GET", "/api/canvases")).canvases.map((c) => c.name);

  // --- cues ---
  const cuePanel = el("section", { class: "panel" });
  let listName = lists.length ? lists[0].name : "";
  function cueRow(c) {
    const num = (v) => (v === null || v === undefined ? "" : v);
    const f = {
      label: el("input", { value: c.label || "", "data-field": "label" }),
      look: el("select", { "data-field": "look" }, el("option", { value: "" }, "(release)"),
        ...looks.map((l) => el("option", { value: l.name, selected: l.name === c.look }, l.name))),
      up_fade: el("input", { type: "number", step: "0.1", min: 0, value: c.up_fade, "data-field": "up_fade" }),
      down_fade: el("input", { type: "number", step: "0.1", min: 0, value: c.down_fade, "data-field": "down_fade" }),
      delay: el("input", { type: "number", step: "0.1", min: 0, value: c.delay || 0, "data-field": "delay" }),
      curve: el("select", { "data-field": "curve" }, ...CURVES.map((k) => el("option", { selected: k === (c.curve || "linear") }, k))),
      follow: el("input", { type: "number", step: "0.1", min: 0, value: num(c.follow), "data-field": "follow", placeholder: "—" }),
      hang: el("input", { type: "number", step: "0.1", min: 0, value: num(c.hang), "data-field": "hang", placeholder: "—" }),
    };
    const save = async () => {
      const doc = { ...c, label: f.label.value, look: f.look.value, up_fade: Number(f.up_fade.value),
        down_fade: Number(f.down_fade.value), delay: Number(f.delay.value), curve: f.curve.value,
        follow: f.follow.value === "" ? null : Number(f.follow.value),
        hang: f.hang.value === "" ? null : Number(f.hang.value) };
      try {
        await api("PUT", `/api/cue-lists/${encodeURIComponent(listName)}/cues/${c.number}`, doc);
        toast(`Cue ${c.number} saved`);
      } catch (e) { report(e); }
    };
    const remove = async () => {
      try { await api("DELETE", `/api/cue-lists/${encodeURIComponent(listName)}/cues/${c.number}`); await showList(); }
      catch (e) { report(e); }
    };
    for (const input of Object.values(f)) input.disabled = !editable;
    return el("tr", { "data-cue": c.number }, el("td", {}, c.number), ...Object.values(f).map((i) => el("td", {}, i)),
      el("td", {}, el("button", { type: "button", class: "save", disabled: !editable, onclick: save }, "Save"),
        el("button", { type: "button", disabled: !editable, onclick: remove }, "Delete")));
  }
  async function showList() {
    const defn = listName ? await api("GET", `/api/cue-lists/${encodeURIComponent(listName)}`) : { cues: [] };
    const picker = el("select", { id: "cue-list", onchange: (ev) => { listName = ev.target.value; showList(); } },
      ...lists.map((l) => el("option", { selected: l.name === listName }, l.name)));
    const number = el("input", { placeholder: "new cue number, e.g. 2.5", id: "new-cue" });
    const add = el("button", { type: "button", disabled: !editable, onclick: async () => {
      try {
        await api("PUT", `/api/cue-lists/${encodeURIComponent(listName)}/cues/${number.value}`, { look: looks[0] ? looks[0].name : "" });
        await showList();
      } catch (e) { report(e); }
    } }, "Add cue");
    // The list itself: a new one, its label and priority (which list wins a canvas), delete.
    const newName = el("input", { id: "new-list", placeholder: "new list name" });
    const create = el("button", { type: "button", id: "create-list", disabled: !editable, onclick: async () => {
      try {
        const name = newName.value.trim();
        await api("PUT", `/api/cue-lists/${encodeURIComponent(name)}`, { cues: [] });
        lists.push({ name });
        listName = name;
        toast(`List ${name} created`);
        await showList();
      } catch (e) { report(e); }
    } }, "New list");
    const label = el("input", { id: "list-label", value: defn.label || "", placeholder: "label", disabled: !editable || !listName });
    const priority = el("input", { id: "list-priority", type: "number", step: 1, value: defn.priority ?? 0, disabled: !editable || !listName });
    const saveList = el("button", { type: "button", id: "save-list", disabled: !editable || !listName, onclick: async () => {
      try {
        await api("PUT", `/api/cue-lists/${encodeURIComponent(listName)}`,
          { ...defn, label: label.value, priority: Number(priority.value) });
        toast(`List ${listName} saved`);
      } catch (e) { report(e); }
    } }, "Save list");
    const removeList = el("button", { type: "button", id: "delete-list", disabled: !editable || !listName, onclick: async () => {
      if (!(await confirmAction(`Delete cue list ${listName} and its cues? A running list is let go at once.`))) return;
      try {
        await api("DELETE", `/api/cue-lists/${encodeURIComponent(listName)}`);
        lists.splice(lists.findIndex((l) => l.name === listName), 1);
        toast(`List ${listName} deleted`);
        listName = lists.length ? lists[0].name : "";
        await showList();
      } catch (e) { report(e); }
    } }, "Delete list");
    cuePanel.replaceChildren(el("h2", {}, "Cues"),
      el("div", { class: "row" }, newName, create),
      el("div", { class: "row" }, picker, label, priority, saveList, removeList),
      el("div", { class: "row" }, number, add),
      el("table", {}, el("thead", {}, el("tr", {}, ...["#", "label", "look", "up s", "down s", "delay s", "curve", "follow s", "hang s", ""].map((h) => el("th", {}, h)))),
        el("tbody", {}, defn.cues.map(cueRow))));
  }

  // --- looks ---
  const lookPanel = el("section", { class: "panel" });
  let lookName = looks.length ? looks[0].name : "";
  function paramEditors(params, onChange) {
    // Colours get a picker; everything else is edited as JSON.
    const out = [];
    for (const [key, value] of Object.entries(params)) {
      if (typeof value === "string" && HEX.test(value)) {
        out.push(el("label", {}, key, el("input", { type: "color", value, "data-param": key,
          oninput: (ev) => { params[key] = ev.target.value; onChange(); } })));
      } else if (Array.isArray(value) && value.every((v) => typeof v === "string" && HEX.test(v))) {
        value.forEach((v, i) => out.push(el("label", {}, `${key}[${i}]`, el("input", { type: "color", value: v,
          oninput: (ev) => { params[key][i] = ev.target.value; onChange(); } }))));
      }
    }
    return out;
  }
  async function showLook() {
    const look = lookName ? await api("GET", `/api/looks/${encodeURIComponent(lookName)}`) : { name: "", canvases: [] };
    const picker = el("select", { id: "look", onchange: (ev) => { lookName = ev.target.value; showLook(); } },
      ...looks.map((l) => el("option", { selected: l.name === lookName }, l.name)));
    const stacks = el("div", { class: "layers" });
    const draw = () => {
      stacks.replaceChildren();
      for (const stack of look.canvases) {
        const layers = stack.layers.map((layer, i) => {
          const json = el("textarea", { "data-layer": `${stack.canvas}:${i}` }, JSON.stringify(layer.params || {}, null, 1));
          const sync = () => { json.value = JSON.stringify(layer.params || {}, null, 1); };
          json.addEventListener("change", () => {
            try { layer.params = JSON.parse(json.value); draw(); } catch { report("params: not valid JSON"); }
          });
          return el("div", { class: "layer" },
            el("div", { class: "row" },
              el("label", {}, "source", el("input", { value: layer.source, onchange: (ev) => { layer.source = ev.target.value; } })),
              el("label", {}, "blend", el("select", { onchange: (ev) => { layer.blend = ev.target.value; } },
                ...BLENDS.map((b) => el("option", { selected: b === (layer.blend || "normal") }, b)))),
              el("label", {}, "opacity", el("input", { type: "range", min: 0, max: 1, step: 0.01, value: layer.opacity ?? 1,
                onchange: (ev) => { layer.opacity = Number(ev.target.value); } })),
              ...paramEditors(layer.params || {}, sync)),
            json);
        });
        stacks.append(el("div", {}, el("h3", {}, stack.canvas), ...layers,
          el("button", { type: "button", disabled: !editable, onclick: () => {
            stack.layers.push({ source: "solid", params: { colour: "#ffffff" }, blend: "normal", opacity: 1 }); draw();
          } }, "Add layer")));
      }
      const missing = canvases.filter((c) => !look.canvases.some((s) => s.canvas === c));
      if (missing.length) {
        stacks.append(el("div", { class: "row" }, el("span", { class: "dim" }, "Add canvas:"),
          ...missing.map((c) => el("button", { type: "button", disabled: !editable, onclick: () => {
            look.canvases.push({ canvas: c, layers: [{ source: "solid", params: { colour: "#000000" } }] }); draw();
          } }, c))));
      }
    };
    draw();
    const save = el("button", { type: "button", id: "save-look", disabled: !editable, onclick: async () => {
      try { await api("PUT", `/api/looks/${encodeURIComponent(look.name)}`, look); toast(`Look ${look.name} saved`); }
      catch (e) { report(e); }
    } }, "Save look");
    const newName = el("input", { id: "new-look", placeholder: "new look name" });
    const create = el("button", { type: "button", id: "create-look", disabled: !editable, onclick: async () => {
      const name = newName.value.trim();
      if (!name) return report("name: give the new look a name");
      const fresh = { name, canvases: [{ canvas: canvases[0], layers: [{ source: "solid", params: { colour: "#ffffff" } }] }] };
      try {
        await api("PUT", `/api/looks/${encodeURIComponent(name)}`, fresh);
        looks.push({ name }); lookName = name; toast(`Look ${name} created`); await showLook();
      } catch (e) { report(e); }
    } }, "New look");
    lookPanel.replaceChildren(el("h2", {}, "Looks"), el("div", { class: "row" }, picker, save, newName, create), stacks);
  }

  main.replaceChildren(cuePanel, lookPanel);
  await showList();
  await showLook();
  return { stop() {} };
}
