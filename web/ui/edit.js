// Edit mode: the cues of a cue list, and the looks (looks.js), under the Undo button (undo.js).
import { api } from "./api.js";
import { mountLooks } from "./looks.js";
import { undoBar } from "./undo.js";

const CURVES = ["linear", "s-curve", "ease-in", "ease-out", "snap"];

export async function mount(main, ui) {
  // An undo changes what the page shows (a look back, a list re-created): it is built anew.
  let page = null;
  const undo = undoBar(ui, async () => {
    page.stop();
    page = await build(main, { ...ui, edited: undo.refresh }, undo);
  });
  page = await build(main, { ...ui, edited: undo.refresh }, undo);
  return { stop: () => page.stop() };
}

async function build(main, ui, undo) {
  const { el, toast, report, can, confirmAction, edited } = ui;
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
      look: el(
        "select",
        { "data-field": "look" },
        el("option", { value: "" }, "(release)"),
        ...looks.map((l) => el("option", { value: l.name, selected: l.name === c.look }, l.name))
      ),
      up_fade: el("input", { type: "number", step: "0.1", min: 0, value: c.up_fade, "data-field": "up_fade" }),
      down_fade: el("input", { type: "number", step: "0.1", min: 0, value: c.down_fade, "data-field": "down_fade" }),
      delay: el("input", { type: "number", step: "0.1", min: 0, value: c.delay || 0, "data-field": "delay" }),
      curve: el(
        "select",
        { "data-field": "curve" },
        ...CURVES.map((k) => el("option", { selected: k === (c.curve || "linear") }, k))
      ),
      follow: el("input", {
        type: "number",
        step: "0.1",
        min: 0,
        value: num(c.follow),
        "data-field": "follow",
        placeholder: "—",
      }),
      hang: el("input", {
        type: "number",
        step: "0.1",
        min: 0,
        value: num(c.hang),
        "data-field": "hang",
        placeholder: "—",
      }),
    };
    const save = async () => {
      const doc = {
        ...c,
        label: f.label.value,
        look: f.look.value,
        up_fade: Number(f.up_fade.value),
        down_fade: Number(f.down_fade.value),
        delay: Number(f.delay.value),
        curve: f.curve.value,
        follow: f.follow.value === "" ? null : Number(f.follow.value),
        hang: f.hang.value === "" ? null : Number(f.hang.value),
      };
      try {
        await api("PUT", `/api/cue-lists/${encodeURIComponent(listName)}/cues/${c.number}`, doc);
        toast(`Cue ${c.number} saved`);
        edited();
      } catch (e) {
        report(e);
      }
    };
    const remove = async () => {
      try {
        await api("DELETE", `/api/cue-lists/${encodeURIComponent(listName)}/cues/${c.number}`);
        edited();
        await showList();
      } catch (e) {
        report(e);
      }
    };
    for (const input of Object.values(f)) input.disabled = !editable;
    return el(
      "tr",
      { "data-cue": c.number },
      el("td", {}, c.number),
      ...Object.values(f).map((i) => el("td", {}, i)),
      el(
        "td",
        {},
        el("button", { type: "button", class: "save", disabled: !editable, onclick: save }, "Save"),
        el("button", { type: "button", disabled: !editable, onclick: remove }, "Delete")
      )
    );
  }
  async function showList() {
    const defn = listName ? await api("GET", `/api/cue-lists/${encodeURIComponent(listName)}`) : { cues: [] };
    const picker = el(
      "select",
      {
        id: "cue-list",
        onchange: (ev) => {
          listName = ev.target.value;
          showList();
        },
      },
      ...lists.map((l) => el("option", { selected: l.name === listName }, l.name))
    );
    const number = el("input", { placeholder: "new cue number, e.g. 2.5", id: "new-cue" });
    const add = el(
      "button",
      {
        type: "button",
        disabled: !editable,
        onclick: async () => {
          try {
            await api("PUT", `/api/cue-lists/${encodeURIComponent(listName)}/cues/${number.value}`, {
              look: looks[0] ? looks[0].name : "",
            });
            edited();
            await showList();
          } catch (e) {
            report(e);
          }
        },
      },
      "Add cue"
    );
    // The list itself: a new one, its label and priority (which list wins a canvas), delete.
    const newName = el("input", { id: "new-list", placeholder: "new list name" });
    const create = el(
      "button",
      {
        type: "button",
        id: "create-list",
        disabled: !editable,
        onclick: async () => {
          try {
            const name = newName.value.trim();
            await api("PUT", `/api/cue-lists/${encodeURIComponent(name)}`, { cues: [] });
            lists.push({ name });
            listName = name;
            toast(`List ${name} created`);
            edited();
            await showList();
          } catch (e) {
            report(e);
          }
        },
      },
      "New list"
    );
    const label = el("input", {
      id: "list-label",
      value: defn.label || "",
      placeholder: "label",
      disabled: !editable || !listName,
    });
    const priority = el("input", {
      id: "list-priority",
      type: "number",
      step: 1,
      value: defn.priority ?? 0,
      disabled: !editable || !listName,
    });
    const saveList = el(
      "button",
      {
        type: "button",
        id: "save-list",
        disabled: !editable || !listName,
        onclick: async () => {
          try {
            await api("PUT", `/api/cue-lists/${encodeURIComponent(listName)}`, {
              ...defn,
              label: label.value,
              priority: Number(priority.value),
            });
            toast(`List ${listName} saved`);
            edited();
          } catch (e) {
            report(e);
          }
        },
      },
      "Save list"
    );
    const removeList = el(
      "button",
      {
        type: "button",
        id: "delete-list",
        disabled: !editable || !listName,
        onclick: async () => {
          if (!(await confirmAction(`Delete cue list ${listName} and its cues? A running list is let go at once.`)))
            return;
          try {
            await api("DELETE", `/api/cue-lists/${encodeURIComponent(listName)}`);
            lists.splice(
              lists.findIndex((l) => l.name === listName),
              1
            );
            toast(`List ${listName} deleted`);
            edited();
            listName = lists.length ? lists[0].name : "";
            await showList();
          } catch (e) {
            report(e);
          }
        },
      },
      "Delete list"
    );
    cuePanel.replaceChildren(
      el("h2", {}, "Cues"),
      el("div", { class: "row" }, newName, create),
      el("div", { class: "row" }, picker, label, priority, saveList, removeList),
      el("div", { class: "row" }, number, add),
      el(
        "table",
        {},
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            ...["#", "label", "look", "up s", "down s", "delay s", "curve", "follow s", "hang s", ""].map((h) =>
              el("th", {}, h)
            )
          )
        ),
        el("tbody", {}, defn.cues.map(cueRow))
      )
    );
  }

  // --- looks (looks.js) ---
  const lookPanel = el("section", { class: "panel" });

  main.replaceChildren(undo.node, cuePanel, lookPanel);
  await showList();
  const lookEditor = await mountLooks(lookPanel, ui, looks, canvases);
  await undo.refresh();
  return { stop: lookEditor.stop };
}
