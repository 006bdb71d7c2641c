// Trigger rules (docs/rules.md): every rule with its live state (true or false and since
// when, its last fire, what holds it), polled from GET /api/rules; an editor (rule_form.js)
// that saves with PUT /api/rules/{name} and tests a document against readings typed in
// (POST /api/rules/test, nothing acts); enable, disable and delete.
import { api, has, siteTime, siteZone } from "./api.js";
import { blankRule, buildable, ruleForm } from "./rule_form.js";

const POLL_MS = 1000;

export async function mount(main, ui) {
  const { el, toast, report, can, confirmAction } = ui;
  const editable = can("show.edit");
  const tz = await siteZone();
  const when = (t) => (t == null ? "—" : siteTime(new Date(t * 1000).toISOString(), tz));
  const listPanel = el("section", { class: "panel", id: "rules-list" });
  const editPanel = el("section", { class: "panel", id: "rule-edit", hidden: !editable });
  let choices = {};
  if (editable) {
    try {
      const [lists, looks, canvases] = await Promise.all([
        api("GET", "/api/cue-lists?limit=1000"),
        api("GET", "/api/looks?limit=1000"),
        api("GET", "/api/canvases"),
      ]);
      // The cameras' names for blob conditions (a daemon with no [[cameras]] has none).
      const cameras = has("cameras") ? (await api("GET", "/api/cameras")).items.map((c) => c.name) : [];
      const listNames = lists.items.map((l) => l.name);
      const lookNames = looks.items.map((l) => l.name);
      choices = {
        list: listNames,
        look: lookNames,
        target: [...listNames, ...lookNames],
        canvas: ["grand", ...canvasNames(canvases)],
        sensor: [],
        camera: cameras,
      };
    } catch (e) {
      report(e);
    }
  }

  // --- the list, with live state ---------------------------------------------------------
  let timer = null;
  let stopped = false;
  async function refresh() {
    let items;
    try {
      items = (await api("GET", "/api/rules")).items;
    } catch (e) {
      report(e);
      return;
    }
    const rows = items.map((r) => {
      const s = r.state;
      const state = !r.enabled ? "disabled" : s.on ? "true" : "false";
      return el(
        "tr",
        { "data-rule": r.name },
        el("td", {}, r.name),
        el("td", { "data-field": "state", class: `rule-${state}` }, state),
        el("td", { "data-field": "since" }, when(s.since)),
        el("td", { "data-field": "last-fire" }, when(s.last_fire)),
        el("td", { "data-field": "fires" }, String(s.fires)),
        el("td", { "data-field": "held", class: "dim" }, s.held || readingsText(s.readings)),
        el(
          "td",
          {},
          editable && el("button", { type: "button", "data-action": "edit", onclick: () => openEditor(r) }, "Edit"),
          editable &&
            el(
              "button",
              { type: "button", "data-action": r.enabled ? "disable" : "enable", onclick: () => toggle(r) },
              r.enabled ? "Disable" : "Enable"
            ),
          editable &&
            el(
              "button",
              { type: "button", class: "danger", "data-action": "delete", onclick: () => remove(r) },
              "Delete"
            )
        )
      );
    });
    listPanel.replaceChildren(
      el("h2", {}, "Trigger rules"),
      items.length
        ? el(
            "table",
            {},
            el(
              "thead",
              {},
              el("tr", {}, ...["rule", "state", "since", "last fire", "fires", "why", ""].map((h) => el("th", {}, h)))
            ),
            el("tbody", {}, rows)
          )
        : el("p", { class: "dim", id: "rules-empty" }, "No rules yet."),
      editable && el("button", { type: "button", id: "rule-new", onclick: () => openEditor(null) }, "New rule")
    );
  }
  async function poll() {
    await refresh();
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  }

  async function toggle(r) {
    try {
      await api("POST", `/api/rules/${encodeURIComponent(r.name)}/${r.enabled ? "disable" : "enable"}`);
      toast(`Rule ${r.name} ${r.enabled ? "disabled" : "enabled"}`);
    } catch (e) {
      report(e);
    }
    await refresh();
  }
  async function remove(r) {
    if (!(await confirmAction(`Delete the rule "${r.name}"? What it started keeps playing.`))) return;
    try {
      await api("DELETE", `/api/rules/${encodeURIComponent(r.name)}`);
      toast(`Rule ${r.name} deleted`);
    } catch (e) {
      report(e);
    }
    await refresh();
  }

  // --- the editor --------------------------------------------------------------------------
  let rule = blankRule();
  const problems = el("ul", { id: "rule-problems", class: "problems" });
  const result = el("div", { id: "rule-test-result" });
  const name = el("input", { id: "rule-name", placeholder: "stairs-night" });
  const enabled = el("input", { type: "checkbox", id: "rule-enabled", checked: true });
  const doc = el("textarea", { id: "rule-doc", rows: 10, cols: 80, spellcheck: "false" });
  const readings = el("textarea", {
    id: "rule-test-readings",
    rows: 3,
    cols: 60,
    placeholder:
      "one reading a line: sensor key=value (e.g. roof lux=20, stairs occupancy=true), or the touches on a surface: touch panel stairs 20,10 30,5",
  });
  let form = null;
  const formBox = el("div");
  const showDoc = () => {
    doc.value = JSON.stringify(current(), null, 2);
  };
  function current() {
    return { ...rule, name: name.value.trim(), enabled: enabled.checked };
  }
  function openEditor(r) {
    rule = r ? structuredClone(Object.fromEntries(Object.entries(r).filter(([k]) => k !== "state"))) : blankRule();
    name.value = rule.name;
    name.disabled = !!r; // renaming is a new rule: save under a new name, delete the old one
    enabled.checked = rule.enabled !== false;
    problems.replaceChildren();
    result.replaceChildren();
    drawForm();
    editPanel.hidden = false;
  }
  function drawForm() {
    form = ruleForm(ui, { rule, choices, onChange: showDoc });
    formBox.replaceChildren(form.node);
    showDoc();
  }
  function showProblems(e) {
    const lines = (e && e.body && e.body.problems) || [e && e.message ? e.message : String(e)];
    problems.replaceChildren(...lines.map((p) => el("li", {}, p)));
  }
  function applyDoc() {
    try {
      const parsed = JSON.parse(doc.value);
      rule = parsed;
      name.value = parsed.name || name.value;
      enabled.checked = parsed.enabled !== false;
      drawForm();
      if (!buildable(rule)) toast("The condition nests: the builder shows the actions and timing only");
      return true;
    } catch (e) {
      showProblems({ message: `the document is not JSON: ${e.message}` });
      return false;
    }
  }
  async function save() {
    const body = current();
    if (!body.name) return showProblems({ message: "rule.name: required" });
    try {
      const r = await api("PUT", `/api/rules/${encodeURIComponent(body.name)}`, body);
      problems.replaceChildren();
      toast(`Rule ${body.name} ${r.created ? "created" : "saved"}`);
      name.disabled = true;
    } catch (e) {
      showProblems(e);
      report(e);
    }
    await refresh();
  }
  async function test() {
    let parsed;
    try {
      parsed = parseReadings(readings.value);
    } catch (e) {
      return showProblems(e);
    }
    try {
      const out = await api("POST", "/api/rules/test", {
        rule: { ...current(), name: current().name || "draft" },
        readings: parsed,
      });
      problems.replaceChildren(...out.problems.map((p) => el("li", {}, p)));
      const s = out.state;
      result.replaceChildren(
        el(
          "p",
          { "data-field": "verdict" },
          `Condition ${s.condition ? "true" : "false"}${s.held ? ` (${s.held})` : ""}`
        ),
        el(
          "ul",
          {},
          s.readings.map((r) => el("li", {}, `${r.ok ? "✓" : "✗"} ${JSON.stringify(r)}`)),
          out.fires.map((f) =>
            el("li", { "data-field": "fire" }, `would fire (${f.edge}): ${JSON.stringify(f.actions)}`)
          )
        )
      );
    } catch (e) {
      showProblems(e);
      report(e);
    }
  }
  editPanel.replaceChildren(
    el("h2", {}, "Rule"),
    el("label", {}, "Name ", name),
    el("label", {}, enabled, " enabled"),
    formBox,
    el(
      "details",
      {},
      el("summary", {}, "Document (JSON)"),
      doc,
      el("button", { type: "button", id: "rule-apply-doc", onclick: applyDoc }, "Apply document")
    ),
    el(
      "div",
      { class: "buttons" },
      el("button", { type: "button", id: "rule-save", onclick: save }, "Save"),
      el("button", { type: "button", id: "rule-test", onclick: test }, "Test")
    ),
    el("label", {}, "Test readings ", readings),
    problems,
    result
  );
  drawForm();

  main.replaceChildren(listPanel, editPanel);
  await poll();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

function canvasNames(doc) {
  const list = Array.isArray(doc) ? doc : doc.canvases || doc.items || [];
  return list.map((c) => (typeof c === "string" ? c : c.name));
}

function readingsText(seen) {
  return (seen || [])
    .filter((r) => "sensor" in r || "touch" in r || "camera" in r)
    .map((r) => {
      if ("touch" in r) return `touch ${r.touch}: ${r.touches}`;
      if ("camera" in r) return `${r.camera}: ${"count" in r ? r.count : "?"} in [${r.region.join(", ")}]`;
      return `${r.sensor}.${r.key}=${"value" in r ? r.value : "?"}`;
    })
    .join(", ");
}

// "roof lux=20 other=1" per line → [{sensor, values}];
// "touch panel stairs 20,10 30,5" → [{touch, canvas, points}] (every touch down on the surface)
export function parseReadings(text) {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line, i) => {
      if (line.startsWith("touch ")) return parseTouches(line, i);
      const [sensor, ...pairs] = line.split(/\s+/);
      const values = {};
      for (const p of pairs) {
        const [k, v] = p.split("=");
        if (!k || v === undefined) throw new Error(`test readings line ${i + 1}: expected key=value (got ${p})`);
        values[k] = v === "true" ? true : v === "false" ? false : Number(v);
        if (typeof values[k] === "number" && !Number.isFinite(values[k]))
          throw new Error(`test readings line ${i + 1}: ${k} is not a number`);
      }
      return { sensor, values };
    });
}

function parseTouches(line, i) {
  const [, touch, canvas, ...pairs] = line.split(/\s+/);
  if (!canvas) throw new Error(`test readings line ${i + 1}: expected touch SURFACE CANVAS x,y …`);
  const points = pairs.map((p) => {
    const xy = p.split(",").map(Number);
    if (xy.length !== 2 || !xy.every(Number.isFinite))
      throw new Error(`test readings line ${i + 1}: expected x,y in canvas pixels (got ${p})`);
    return xy;
  });
  return { touch, canvas, points };
}
