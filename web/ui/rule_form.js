// The trigger-rule editor: a condition builder (sensor comparisons, presences, touches on a
// surface or in a region of a canvas, time windows, the sun, what the schedule plays; all or
// any of them), actions on rise and on fall, the
// timing fields, and the rule's document (docs/rules.md) for what the builder cannot say.
const OPS = ["<", "<=", ">", ">=", "==", "!="];
const SUN = ["after_sunset", "before_sunrise", "after_sunrise", "before_sunset"];
const CONDITIONS = {
  sensor: () => ({ sensor: "", key: "", op: "<", value: 0 }),
  presence: () => ({ sensor: "", key: "occupancy", is: true }),
  touch: () => ({ touch: { surface: "" } }),
  "touch region": () => ({ touch: { canvas: "", region: [0, 0, 10, 10] } }),
  time: () => ({ time: { from: "22:00", until: "06:00" } }),
  sun: () => ({ sun: "after_sunset", offset_s: 0 }),
  schedule: () => ({ schedule_plays: "" }),
  // A camera's tracked blobs in a region of its picture (fractions: x0, y0, x1, y1).
  camera_presence: () => ({ presence: "", region: [0, 0, 1, 1] }),
  blob_count: () => ({ blobs: "", region: [0, 0, 1, 1], op: ">=", count: 2 }),
};
const ACTIONS = {
  go: () => ({ go: "" }),
  goto: () => ({ goto: "", cue: "1" }),
  release: () => ({ release: "" }),
  override: () => ({ override: [], look: "", ttl_s: 60 }),
  celebrate: () => ({ celebrate: "", duration_s: 30 }),
  master: () => ({ master: "grand", level: 1 }),
  follow: () => ({ follow: "grand", sensor: "", key: "", in_min: 0, in_max: 1000 }),
};
const TIMING = ["debounce_s", "min_on_s", "min_off_s", "cooldown_s", "priority"];

export function blankRule() {
  return { name: "", enabled: true, when: { all: [] }, on_rise: [], on_fall: [], debounce_s: 0 };
}

function conditionKind(c) {
  if ("sensor" in c) return "is" in c ? "presence" : "sensor";
  if ("touch" in c) return c.touch.region ? "touch region" : "touch";
  if ("time" in c) return "time";
  if ("sun" in c) return "sun";
  if ("schedule_plays" in c) return "schedule";
  if ("presence" in c) return "camera_presence";
  if ("blobs" in c) return "blob_count";
  return null; // nested (all / any / not): the document only
}
const actionKind = (a) => Object.keys(ACTIONS).find((k) => k in a) || null;

// The builder edits a flat all/any of leaf conditions; anything deeper is the JSON's.
export function buildable(rule) {
  const w = rule.when || {};
  const items = w.all || w.any;
  return !!items && Object.keys(w).length === 1 && items.every((c) => conditionKind(c) && typeof c.sun !== "object");
}

export function ruleForm(ui, { rule, choices, onChange }) {
  const { el } = ui;
  const changed = () => onChange(rule);

  function input(obj, key, attrs = {}, parse = (v) => v) {
    const node = el("input", {
      value: obj[key] == null ? "" : String(obj[key]),
      "data-field": key,
      ...attrs,
      oninput: (ev) => {
        const raw = ev.target.value;
        if (raw === "" && attrs.type === "number") delete obj[key];
        else obj[key] = parse(raw);
        changed();
      },
    });
    return el("label", {}, `${key} `, node);
  }
  const num = (obj, key, attrs = {}) => input(obj, key, { type: "number", step: "any", ...attrs }, Number);
  function select(obj, key, options, parse = (v) => v) {
    const node = el(
      "select",
      {
        "data-field": key,
        onchange: (ev) => {
          obj[key] = parse(ev.target.value);
          changed();
        },
      },
      options.map((o) => el("option", { value: String(o), selected: String(obj[key]) === String(o) }, String(o)))
    );
    return el("label", {}, `${key} `, node);
  }
  const pick = (obj, key, names) => input(obj, key, { list: `rule-${names}-names` }, (v) => v.trim());

  // "x0, y0, x1, y1": the region as typed; the daemon checks it (0..1, x1 > x0, y1 > y0).
  function region(c) {
    return input(
      { region: (c.region || [0, 0, 1, 1]).join(", ") },
      "region",
      { placeholder: "x0, y0, x1, y1" },
      (v) => {
        c.region = v.split(",").map((x) => Number(x.trim()));
        return v;
      }
    );
  }

  function conditionFields(c) {
    switch (conditionKind(c)) {
      case "sensor":
        return [
          pick(c, "sensor", "sensor"),
          input(c, "key"),
          select(c, "op", OPS),
          num(c, "value"),
          num(c, "hysteresis", { min: 0 }),
          num(c, "stale_s", { min: 0 }),
        ];
      case "presence":
        return [
          pick(c, "sensor", "sensor"),
          input(c, "key"),
          select(c, "is", [true, false], (v) => v === "true"),
          num(c, "stale_s", { min: 0 }),
        ];
      case "touch":
        return [input(c.touch, "surface", {}, (v) => v.trim())];
      case "touch region":
        return [
          pick(c.touch, "canvas", "canvas"),
          ...["x", "y", "w", "h"].map((label, i) =>
            el(
              "label",
              {},
              `${label} `,
              el("input", {
                type: "number",
                step: "any",
                min: 0,
                value: String(c.touch.region[i]),
                "data-field": `region-${label}`,
                oninput: (ev) => {
                  c.touch.region[i] = Number(ev.target.value);
                  changed();
                },
              })
            )
          ),
        ];
      case "time":
        return [
          input(c.time, "from", { type: "time" }),
          input(c.time, "until", { type: "time" }),
          input(
            { days: (c.time.days || []).join(",") },
            "days",
            { placeholder: "mon,tue,… (empty: every day)" },
            (v) => {
              const days = v
                .split(",")
                .map((d) => d.trim())
                .filter(Boolean);
              if (days.length) c.time.days = days;
              else delete c.time.days;
              return v;
            }
          ),
        ];
      case "sun":
        return [select(c, "sun", SUN), num(c, "offset_s")];
      case "camera_presence":
        return [pick(c, "presence", "camera"), region(c), num(c, "stale_s", { min: 0 })];
      case "blob_count":
        return [
          pick(c, "blobs", "camera"),
          region(c),
          select(c, "op", OPS),
          num(c, "count", { min: 0, step: 1 }),
          num(c, "stale_s", { min: 0 }),
        ];
      default:
        return [pick(c, "schedule_plays", "target")];
    }
  }

  function rows(list, kindOf, kinds, fieldsOf, prefix) {
    return list.map((item, i) =>
      el(
        "div",
        { class: "rule-row", "data-row": `${prefix}-${i}` },
        el(
          "select",
          {
            "data-field": "kind",
            onchange: (ev) => {
              list[i] = kinds[ev.target.value]();
              changed();
              draw();
            },
          },
          Object.keys(kinds).map((k) => el("option", { value: k, selected: kindOf(item) === k }, k))
        ),
        ...fieldsOf(item),
        el(
          "button",
          {
            type: "button",
            "data-action": "remove",
            onclick: () => {
              list.splice(i, 1);
              changed();
              draw();
            },
          },
          "✕"
        )
      )
    );
  }

  function actionFields(a) {
    switch (actionKind(a)) {
      case "go":
        return [pick(a, "go", "list")];
      case "goto":
        return [pick(a, "goto", "list"), input(a, "cue"), num(a, "fade", { min: 0 })];
      case "release":
        return [pick(a, "release", "list"), num(a, "fade", { min: 0 })];
      case "override":
        return [
          input(
            { override: (a.override || []).join(",") },
            "override",
            { placeholder: "canvases, comma-separated" },
            (v) => {
              a.override = v
                .split(",")
                .map((c) => c.trim())
                .filter(Boolean);
              return v;
            }
          ),
          pick(a, "look", "look"),
          num(a, "ttl_s", { min: 0.1 }),
        ];
      case "celebrate":
        return [pick(a, "celebrate", "look"), num(a, "duration_s", { min: 0.1 })];
      case "master":
        return [pick(a, "master", "canvas"), num(a, "level", { min: 0, max: 1 })];
      default:
        return [
          pick(a, "follow", "canvas"),
          pick(a, "sensor", "sensor"),
          input(a, "key"),
          num(a, "in_min"),
          num(a, "in_max"),
        ];
    }
  }

  const root = el("div", { class: "rule-builder" });
  function draw() {
    const parts = [];
    if (buildable(rule)) {
      const mode = "all" in rule.when ? "all" : "any";
      const items = rule.when[mode];
      parts.push(
        el(
          "fieldset",
          { id: "rule-when" },
          el(
            "legend",
            {},
            "When ",
            el(
              "select",
              {
                id: "rule-combine",
                onchange: (ev) => {
                  rule.when = { [ev.target.value]: items };
                  changed();
                  draw();
                },
              },
              el("option", { value: "all", selected: mode === "all" }, "all of"),
              el("option", { value: "any", selected: mode === "any" }, "any of")
            )
          ),
          rows(items, conditionKind, CONDITIONS, conditionFields, "when"),
          adder("Add condition", "add-condition", CONDITIONS, items)
        )
      );
    } else {
      parts.push(
        el("p", { class: "dim", id: "rule-nested" }, "This condition nests all/any/not: edit it in the document below.")
      );
    }
    for (const [edge, label] of [
      ["on_rise", "On rise"],
      ["on_fall", "On fall"],
    ]) {
      rule[edge] = rule[edge] || [];
      parts.push(
        el(
          "fieldset",
          { id: `rule-${edge}` },
          el("legend", {}, label),
          rows(rule[edge], actionKind, ACTIONS, actionFields, edge),
          adder("Add action", `add-${edge}`, ACTIONS, rule[edge])
        )
      );
    }
    parts.push(
      el(
        "fieldset",
        { id: "rule-timing" },
        el("legend", {}, "Timing (seconds)"),
        TIMING.map((k) => num(rule, k, k === "priority" ? { step: 1 } : { min: 0 }))
      )
    );
    for (const [id, names] of Object.entries(choices)) {
      parts.push(
        el(
          "datalist",
          { id: `rule-${id}-names` },
          names.map((n) => el("option", { value: n }))
        )
      );
    }
    root.replaceChildren(...parts);
  }
  function adder(label, id, kinds, list) {
    const kind = el(
      "select",
      { "data-field": "new-kind" },
      Object.keys(kinds).map((k) => el("option", { value: k }, k))
    );
    return el(
      "div",
      { class: "rule-add" },
      kind,
      el(
        "button",
        {
          type: "button",
          id,
          onclick: () => {
            list.push(kinds[kind.value]());
            changed();
            draw();
          },
        },
        label
      )
    );
  }
  draw();
  return { node: root, redraw: draw };
}
