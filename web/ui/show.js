// Show mode: cue lists with the standing-by and running cue, fade progress, the verbs,
// masters and blackout, the emergency control, live previews.
import { api, Live } from "./api.js";
import { previewCanvas } from "./preview.js";
import { overrideRoute, parkRoute, releaseCell } from "./release.js";

export async function mount(main, ui) {
  const { el, report, confirmAction, can } = ui; // ui.toast for what a verb did
  const operate = can("playback");
  const live = new Live();
  let state = await api("GET", "/api/playback");
  // Every list with its cues in one request (no request per list), as the engine plays them.
  const lists = (await api("GET", "/api/playback/lists")).lists;
  const canvases = (await api("GET", "/api/canvases")).canvases.map((c) => c.name);
  const lookNames = (await api("GET", "/api/looks?limit=1000")).items.map((l) => l.name);
  let selected = lists.length ? lists[0].name : null;

  // What a verb did, said out loud when it did nothing visible (never silent).
  const outcomes = {
    "end-of-list": (name) => `${name}: end of list, nothing stands by`,
    debounced: (name) => `${name}: second GO ignored (debounce)`,
    unchanged: (name) => `${name}: nothing to change`,
  };
  const verb = async (name, action, body = {}) => {
    try {
      const r = await api("POST", `/api/cue-lists/${encodeURIComponent(name)}/${action}`, body);
      const said = outcomes[r.outcome];
      if (said) ui.toast(said(name));
    } catch (e) {
      report(e);
    }
  };

  // A list's state in words, with the fade's countdown while it runs.
  const describe = (st) => {
    const times =
      st.remaining_s != null ? ` · ${st.elapsed_s.toFixed(1)} s in, ${st.remaining_s.toFixed(1)} s left` : "";
    if (st.fading) return `fading${times}`;
    if (st.paused) return `paused${times}`;
    return st.current ? "holding" : "idle";
  };

  // --- cue lists ---
  const listPanels = el("div", { class: "grid" });
  const progressBars = new Map();
  const fades = new Map(); // list → the fade typed for its next GOTO/FIRE/BACK/RELEASE/TOP
  const withFade = (name, body = {}) => {
    const text = fades.get(name);
    return text === undefined || text === "" ? body : { ...body, fade: Number(text) };
  };
  const statusLines = new Map();
  // Each list's panel is built once; a state change only updates what changed (texts, two
  // highlighted rows, the bar), so a GO shows at once even with thousands of cue rows.
  const panels = new Map();
  const stateOf = (name) => state.lists.find((l) => l.name === name) || {};
  // One cue row, built once and cloned for every cue (thousands of rows in a long show).
  const rowProto = el(
    "tr",
    {},
    el("td"),
    el("td"),
    el("td"),
    el("td"),
    el(
      "td",
      { class: "row" },
      el("button", { type: "button", disabled: !operate, class: "goto", "data-verb": "goto" }, "GOTO"),
      el(
        "button",
        {
          type: "button",
          disabled: !operate,
          class: "load",
          "data-verb": "load",
          title: "stand by (next GO plays it)",
        },
        "LOAD"
      ),
      el(
        "button",
        { type: "button", disabled: !operate, class: "fire", "data-verb": "fire", title: "play out of sequence" },
        "FIRE"
      )
    )
  );
  const cueRow = (c) => {
    const tr = rowProto.cloneNode(true);
    tr.dataset.cue = c.number;
    const [n, label, look, fade] = tr.children;
    n.textContent = c.number;
    label.textContent = c.label || "";
    look.textContent = c.look || "—";
    fade.textContent = `${c.up_fade}/${c.down_fade} s`;
    return tr;
  };
  let unfilled = lists.length;
  function buildLists() {
    listPanels.replaceChildren();
    for (const defn of lists) {
      const name = defn.name;
      const bar = el("div", { class: "fill" });
      progressBars.set(name, bar);
      const rows = new Map();
      // One handler for every cue button of the list (no closure per row).
      const body = el("tbody", {
        onclick: (ev) => {
          const button = ev.target.closest("button[data-verb]");
          if (!button) return;
          const action = button.dataset.verb;
          const cue = button.closest("tr").dataset.cue;
          verb(name, action, action === "load" ? { cue } : withFade(name, { cue }));
        },
      });
      const statusText = el("span", { class: "dim status" });
      statusLines.set(name, [statusText, defn.priority]);
      const running = el("strong", { class: "running" });
      const standby = el("strong", { class: "standby" });
      const pause = el("button", {
        type: "button",
        disabled: !operate,
        onclick: () => verb(name, stateOf(name).paused ? "resume" : "pause"),
      });
      const panel = { rows, bar, statusText, running, standby, pause, current: null, pending: null };
      panels.set(name, panel);
      // The cue rows come a list per task after the first paint (GO works from it; a long
      // show's tables fill in behind it without blocking the page).
      requestAnimationFrame(() =>
        setTimeout(() => {
          for (const c of defn.cues) rows.set(c.number, cueRow(c));
          body.replaceChildren(...rows.values());
          panel.current = panel.pending = undefined; // highlight again, now the rows exist
          renderLists();
          if (--unfilled === 0) performance.mark("show:rows"); // every cue row is there
        }, 0)
      );
      listPanels.append(
        el(
          "section",
          {
            class: "panel cuelist",
            "data-list": name,
            onclick: () => {
              selected = name;
            },
          },
          el("div", { class: "row" }, el("h2", {}, defn.label || name), statusText),
          el("div", { class: "row" }, el("span", {}, "Running: ", running), el("span", {}, "Standing by: ", standby)),
          el("div", { class: "progress", "data-progress": name }, bar),
          el(
            "div",
            { class: "row" },
            el("button", { type: "button", class: "go", disabled: !operate, onclick: () => verb(name, "go") }, "GO"),
            el(
              "button",
              { type: "button", disabled: !operate, onclick: () => verb(name, "back", withFade(name)) },
              "BACK"
            ),
            pause,
            el(
              "button",
              { type: "button", disabled: !operate, onclick: () => verb(name, "release", withFade(name)) },
              "RELEASE"
            ),
            el(
              "button",
              { type: "button", disabled: !operate, class: "top", onclick: () => verb(name, "top", withFade(name)) },
              "TOP"
            ),
            el(
              "label",
              { class: "dim" },
              "fade ",
              el("input", {
                type: "number",
                min: 0,
                max: 86400,
                step: 0.1,
                class: "fade",
                placeholder: "cue's own",
                disabled: !operate,
                oninput: (ev) => fades.set(name, ev.target.value),
              }),
              " s"
            )
          ),
          el(
            "table",
            {},
            el("thead", {}, el("tr", {}, ...["cue", "label", "look", "fade up/down", ""].map((h) => el("th", {}, h)))),
            body
          )
        )
      );
    }
  }
  const mark = (p, key, number, cls) => {
    if (p[key] === number) return;
    p.rows.get(p[key])?.classList.remove(cls);
    p.rows.get(number)?.classList.add(cls);
    p[key] = number;
  };
  function renderLists() {
    for (const defn of lists) {
      const st = stateOf(defn.name);
      const p = panels.get(defn.name);
      // An idle list shows an empty bar, not a full one from its last fade.
      p.bar.style.width = `${st.current ? Math.round(100 * (st.progress || 0)) : 0}%`;
      p.statusText.textContent = `priority ${defn.priority} · ${describe(st)}`;
      p.running.textContent = st.current || "—";
      p.standby.textContent = st.pending || "—";
      p.pause.textContent = st.paused ? "RESUME" : "PAUSE";
      mark(p, "current", st.current, "current");
      mark(p, "pending", st.pending, "pending");
    }
  }

  // --- on stage: parks and scripted overrides, per canvas, who holds them ---
  const stage = el("section", { class: "panel", id: "stage" });
  const hex = (rgb) =>
    "#" +
    rgb
      .map((v) =>
        Math.round(v / 257)
          .toString(16)
          .padStart(2, "0")
      )
      .join("");
  const call = async (method, path, body) => {
    try {
      await api(method, path, body);
    } catch (e) {
      report(e);
    }
  };
  function renderStage() {
    const override = can("override");
    const parkRows = Object.entries(state.parks).map(([canvas, target]) => {
      const holder = (state.park_holders || {})[canvas] || {};
      const what = target && target.look ? target.look : target && target.rgb ? hex(target.rgb) : "—";
      return el(
        "tr",
        { "data-park": canvas },
        el("td", {}, canvas),
        el("td", {}, what),
        el("td", {}, holder.by || "restored"),
        el("td", {}, holder.for_s != null ? `${holder.for_s} s` : ""),
        releaseCell(el, call, parkRoute(canvas), override, { class: "unpark" })
      );
    });
    const overrideRows = state.overrides.map((o) =>
      el(
        "tr",
        { "data-override": o.id },
        el("td", {}, o.canvases.join(", ")),
        el("td", {}, o.owner),
        el("td", {}, `priority ${o.priority}`),
        el("td", {}, o.expires_in != null ? `${o.expires_in} s left` : ""),
        releaseCell(el, call, overrideRoute(o.id), override)
      )
    );
    const canvasPick = el("select", { id: "park-canvas" }, ...canvases.map((c) => el("option", {}, c)));
    const lookPick = el(
      "select",
      { id: "park-look" },
      el("option", { value: "" }, "colour:"),
      ...lookNames.map((l) => el("option", {}, l))
    );
    const colour = el("input", { type: "color", id: "park-colour", value: "#ff0000" });
    const park = el(
      "button",
      {
        type: "button",
        id: "park",
        disabled: !override,
        onclick: () => {
          const rgb = [1, 3, 5].map((i) => parseInt(colour.value.slice(i, i + 2), 16) * 257);
          const body = lookPick.value ? { look: lookPick.value } : { rgb };
          call("PUT", `/api/parks/${encodeURIComponent(canvasPick.value)}`, body);
        },
      },
      "Park"
    );
    const heads = (...names) => el("thead", {}, el("tr", {}, ...names.map((h) => el("th", {}, h))));
    stage.replaceChildren(
      el("h2", {}, "On stage"),
      el("div", { class: "row" }, canvasPick, lookPick, colour, park),
      el("table", {}, heads("parked canvas", "on", "by", "for", ""), el("tbody", {}, parkRows)),
      el("table", {}, heads("override on", "by", "", "expires", ""), el("tbody", {}, overrideRows))
    );
  }

  // --- masters, blackout, emergency ---
  const masters = el("section", { class: "panel" });
  const emergency = el("section", { class: "panel emergency" });
  function renderMasters() {
    const m = state.masters;
    // A slider and its level as a number, either one sets it.
    const setLevel = async (target, text) => {
      try {
        await api("PUT", `/api/masters/${target}`, { level: Number(text) });
      } catch (e) {
        report(e);
      }
    };
    const slider = (target, value) =>
      el(
        "label",
        {},
        target,
        el("input", {
          type: "range",
          min: 0,
          max: 1,
          step: 0.01,
          value,
          disabled: !can("masters"),
          "data-master": target,
          onchange: (ev) => setLevel(target, ev.target.value),
        }),
        el("input", {
          type: "number",
          min: 0,
          max: 1,
          step: 0.01,
          value: Number(value).toFixed(2),
          class: "level",
          "data-level": target,
          disabled: !can("masters"),
          onchange: (ev) => setLevel(target, ev.target.value),
        })
      );
    masters.replaceChildren(
      el("h2", {}, "Masters"),
      el("div", { class: "grid" }, slider("grand", m.grand), ...canvases.map((c) => slider(c, m.canvases[c] ?? 1))),
      el(
        "button",
        {
          type: "button",
          id: "blackout",
          class: m.blackout ? "danger" : "",
          disabled: !can("masters"),
          onclick: async () => {
            try {
              await api("POST", "/api/blackout", { on: !state.masters.blackout });
            } catch (e) {
              report(e);
            }
          },
        },
        m.blackout ? "Blackout ON — restore" : "Blackout"
      ),
      el(
        "button",
        {
          type: "button",
          id: "panic",
          class: "danger",
          disabled: !can("playback"),
          title: "release every cue list, park and override",
          onclick: async () => {
            if (!(await confirmAction("PANIC: release every cue list, park and override?"))) return;
            try {
              await api("POST", "/api/panic", {});
            } catch (e) {
              report(e);
            }
          },
        },
        "PANIC"
      )
    );
    const engaged = state.emergency.engaged;
    emergency.classList.toggle("engaged", engaged);
    emergency.replaceChildren(
      el("h2", {}, engaged ? "EMERGENCY ENGAGED" : "Emergency"),
      el(
        "p",
        { class: "dim", id: "emergency-state" },
        engaged ? `On ${state.emergency.canvases.join(", ")}` : "Not engaged"
      ),
      el(
        "button",
        {
          type: "button",
          id: engaged ? "emergency-release" : "emergency-engage",
          disabled: !can("emergency.engage"),
          onclick: async () => {
            const action = engaged ? "release" : "engage";
            // Only the canvases with an emergency look change: name them, not "the building".
            const scope = state.emergency.canvases.length
              ? state.emergency.canvases.join(", ")
              : "no canvas (none has an emergency look)";
            const ok = await confirmAction(
              engaged ? "Release the emergency override?" : `ENGAGE the emergency override on ${scope}?`
            );
            if (!ok) return;
            try {
              const r = await api("POST", `/api/emergency/${action}`);
              if (r.outcome === "refused") report(r.reason);
            } catch (e) {
              report(e);
            }
          },
        },
        engaged ? "Release emergency" : "ENGAGE EMERGENCY"
      )
    );
  }

  // --- previews ---
  const previews = el("section", { class: "panel" }, el("h2", {}, "Live"));
  const grid = el("div", { class: "previews" });
  previews.append(grid);
  for (const name of canvases) {
    grid.append(el("figure", {}, previewCanvas(el, live, name), el("figcaption", { class: "dim" }, name)));
  }

  const render = () => {
    renderLists();
    renderMasters();
    renderStage();
  };
  live.on("canvas:update", (s) => {
    state = s;
    render();
  });
  live.on("cue:progress", (p) => {
    const bar = progressBars.get(p.list);
    if (bar) bar.style.width = `${Math.round(100 * p.progress)}%`;
    const line = statusLines.get(p.list);
    if (line) line[0].textContent = `priority ${line[1]} · ${describe({ ...p, current: p.cue })}`;
  });
  live.setPreview(canvases, 10);
  live.connect();

  // Keys on the selected list (the daemon debounces double presses as well): Space = GO,
  // B = BACK, P = PAUSE / RESUME, R = RELEASE. Shown on the page.
  const keyVerbs = { Space: "go", KeyB: "back", KeyP: "pause", KeyR: "release" };
  const keys = (ev) => {
    const action = keyVerbs[ev.code];
    if (!action || !operate || !selected || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (["INPUT", "TEXTAREA", "SELECT", "BUTTON"].includes(document.activeElement.tagName)) return;
    ev.preventDefault();
    const st = state.lists.find((l) => l.name === selected) || {};
    verb(selected, action === "pause" && st.paused ? "resume" : action);
  };
  document.addEventListener("keydown", keys);
  const help = el(
    "p",
    { class: "dim", id: "keys" },
    "Keys on the selected list: Space GO · B BACK · P PAUSE/RESUME · R RELEASE"
  );
  buildLists();
  main.replaceChildren(emergency, help, listPanels, stage, previews, masters);
  render();
  return {
    stop() {
      live.close();
      document.removeEventListener("keydown", keys);
    },
  };
}
