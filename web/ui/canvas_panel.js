// One canvas, inspected: who holds it now (emergency, park, overrides, cue lists), park it on a
// look or a colour, release the park, and "why this colour": the ladder of what would play,
// top first, as the daemon composes it (the playback state's `ladder`, docs/playback.md).
import { api } from "./api.js";
import { overrideRoute, parkRoute, releaseCell } from "./release.js";

// 16-bit RGB as #rrggbb.
export const hex = (rgb) =>
  "#" +
  rgb
    .map((v) =>
      Math.round(v / 257)
        .toString(16)
        .padStart(2, "0")
    )
    .join("");

const LEVELS = {
  emergency: "Emergency",
  park: "Park",
  override: "Override",
  "rule list": "Rule (cue list)",
  "cue list": "Cue list",
  "schedule list": "Schedule (cue list)",
  schedule: "Schedule",
  idle: "Idle look",
  "safe state": "Safe state",
};

export function canvasPanel(ui, name, description, lookNames) {
  const { el, report, can } = ui;
  const override = can("override");
  const what = (w) => {
    if (!w) return el("span", { class: "dim" }, "letting go");
    if (w.rgb) return el("span", {}, el("span", { class: "swatch", "data-rgb": hex(w.rgb) }), " ", hex(w.rgb));
    if (w.look === "@idle") return "the idle look";
    if (w.look === "@emergency") return "the emergency look";
    return `look ${w.look}`;
  };
  const swatches = (root) => {
    // a colour chip's fill, set through the CSSOM (the CSP allows it)
    for (const s of root.querySelectorAll(".swatch[data-rgb]")) s.style.background = s.dataset.rgb;
  };
  const call = async (method, path, body) => {
    try {
      await api(method, path, body);
      return true;
    } catch (e) {
      report(e);
      return false;
    }
  };
  const path = parkRoute(name);

  const lookPick = el(
    "select",
    { class: "park-look" },
    el("option", { value: "" }, "colour:"),
    ...lookNames.map((l) => el("option", {}, l))
  );
  const colour = el("input", { type: "color", class: "park-colour", value: "#ff0000" });
  const fade = el("input", { type: "number", class: "park-fade", min: 0, max: 3600, step: 0.1, value: 0 });
  const park = el(
    "button",
    {
      type: "button",
      class: "park",
      disabled: !override,
      onclick: () => {
        const rgb = [1, 3, 5].map((i) => parseInt(colour.value.slice(i, i + 2), 16) * 257);
        const body = lookPick.value ? { look: lookPick.value } : { rgb };
        if (fade.value !== "" && Number(fade.value) > 0) body.fade = Number(fade.value);
        call("PUT", path, body);
      },
    },
    "Park"
  );
  const release = el(
    "button",
    {
      type: "button",
      class: "unpark",
      disabled: !override,
      onclick: () =>
        call("DELETE", path, fade.value !== "" && Number(fade.value) > 0 ? { fade: Number(fade.value) } : {}),
    },
    "Release park"
  );
  const holders = el("tbody", { class: "holders" });
  const ladder = el("ol", { class: "ladder" });
  const node = el(
    "section",
    { class: "panel canvas-panel", "data-canvas": name },
    el("h2", {}, name),
    description ? el("p", { class: "dim" }, description) : null,
    el("h3", {}, "Held by"),
    el(
      "table",
      {},
      el("thead", {}, el("tr", {}, ...["", "on", "by", "since / left", ""].map((h) => el("th", {}, h)))),
      holders
    ),
    el("div", { class: "row" }, lookPick, colour, el("label", { class: "dim" }, "fade s", fade), park, release),
    el("h3", {}, "Why this colour"),
    el(
      "p",
      { class: "dim" },
      "Everything with something on this canvas, top first: the first one shows; the next shows through when it lets go."
    ),
    ladder
  );

  function update(state) {
    const rows = [];
    if (state.emergency.engaged && state.emergency.canvases.includes(name)) {
      rows.push(
        el(
          "tr",
          { "data-holder": "emergency" },
          el("td", {}, "EMERGENCY"),
          el("td", {}, "the emergency look"),
          el("td", {}, "latched"),
          el("td", {}, ""),
          el("td", {})
        )
      );
    }
    const parked = state.parks[name];
    if (parked) {
      const holder = (state.park_holders || {})[name] || {};
      rows.push(
        el(
          "tr",
          { "data-holder": "park" },
          el("td", {}, "park"),
          el("td", {}, what(parked)),
          el("td", { class: "park-holder" }, holder.by || "restored at start-up"),
          el("td", {}, holder.for_s != null ? `for ${holder.for_s} s` : ""),
          releaseCell(el, call, path, override)
        )
      );
    }
    for (const o of state.overrides.filter((o) => o.canvases.includes(name))) {
      rows.push(
        el(
          "tr",
          { "data-holder": "override" },
          el("td", {}, `override (priority ${o.priority})`),
          el("td", {}, o.id),
          el("td", {}, o.owner),
          el("td", {}, o.expires_in != null ? `${o.expires_in} s left` : "no TTL"),
          releaseCell(el, call, overrideRoute(o.id), override)
        )
      );
    }
    for (const l of state.lists.filter((l) => l.canvases.includes(name))) {
      rows.push(
        el(
          "tr",
          { "data-holder": "cue-list" },
          el("td", {}, `cue list (priority ${l.priority})`),
          el("td", {}, l.current ? `cue ${l.current}` : "letting go"),
          el("td", {}, l.label || l.name),
          el("td", {}, l.fading ? "fading" : l.paused ? "paused" : ""),
          el("td", {})
        )
      );
    }
    if (!rows.length)
      rows.push(el("tr", {}, el("td", { colspan: 5, class: "dim" }, "Nobody: the idle look or the safe state")));
    holders.replaceChildren(...rows);
    release.disabled = !override || !parked;
    const contenders = (state.ladder || {})[name] || [];
    ladder.replaceChildren(
      ...contenders.map((c, i) =>
        el(
          "li",
          { "data-level": c.level, class: i === 0 ? "shows" : "" },
          el("strong", {}, LEVELS[c.level] || c.level),
          c.name != null && c.level !== "override" ? ` ${c.name}` : "",
          c.cue ? ` · cue ${c.cue}` : "",
          c.priority != null ? ` · priority ${c.priority}` : "",
          c.by ? ` · by ${c.by}` : "",
          " · ",
          c.level === "safe state" ? (c.name === "hold" ? "holds its last frame" : "black") : what(c.what),
          i === 0 ? el("span", { class: "dim" }, " ← shows now") : ""
        )
      )
    );
    swatches(node);
  }
  return { node, update };
}
