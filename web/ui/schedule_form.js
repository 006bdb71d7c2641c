// One form for a new schedule entry and for editing one: what it plays, when it starts (a clock
// time or a sun event with an offset), how it repeats (presets that build the RRULE, or a
// custom one), when it ends, the dates it skips, priority, enabled. A refused save keeps every
// value and lists the daemon's problems next to the form.
import { api, ApiError } from "./api.js";
import { DAYS, PRESETS, buildRrule, readRrule, wallClock, zonedIso } from "./recurrence.js";

const KINDS = [
  ["cue_list", "cue list"],
  ["look", "look"],
  ["cue", "one cue of a list"],
];
const SUN = [
  "sunrise",
  "sunset",
  "civil_dawn",
  "civil_dusk",
  "nautical_dawn",
  "nautical_dusk",
  "astronomical_dawn",
  "astronomical_dusk",
];
const sunLabel = (a) => a.replace("_", " ");

// choices: { cue_list: [names], look: [names] } (a cue's target is a cue list).
export function entryForm(ui, { entry, choices, zone, onSaved, onClose }) {
  const { el, toast, report } = ui;
  const e = entry || {};
  const tz = e.timezone || zone;
  const today = wallClock(new Date().toISOString(), tz).date;
  const start = e.id ? wallClock(e.dtstart, tz) : { date: today, time: "21:00" };
  const rule = readRrule(e.rrule);
  const minutes = (s) => (s == null ? "" : String(Math.round((s / 60) * 100) / 100));

  const field = (label, input, extra = {}) => el("label", extra, label, input);
  const name = el("input", { id: "entry-name", value: e.name || "", required: true, maxlength: 200 });
  const kind = el(
    "select",
    { id: "entry-kind" },
    KINDS.map(([k, text]) => el("option", { value: k, selected: k === (e.target_kind || "cue_list") }, text))
  );
  const target = el("select", { id: "entry-target" });
  const cue = el("input", { id: "entry-cue", value: e.cue ?? "", size: 6, placeholder: "e.g. 2.5" });
  const anchor = el(
    "select",
    { id: "entry-anchor" },
    el("option", { value: "clock" }, "clock time"),
    SUN.map((a) => el("option", { value: a }, sunLabel(a)))
  );
  anchor.value = e.anchor || "clock";
  const time = el("input", { id: "entry-time", type: "time", value: start.time });
  const offset = el("input", {
    id: "entry-offset",
    type: "number",
    step: 1,
    min: -720,
    max: 720,
    value: minutes(e.offset_s || 0),
  });
  const date = el("input", { id: "entry-date", type: "date", value: start.date, required: true });
  const preset = el(
    "select",
    { id: "entry-repeat" },
    PRESETS.map(([k, text]) => el("option", { value: k, selected: k === rule.preset }, text))
  );
  const days = DAYS.map((d) =>
    el("input", { type: "checkbox", value: d, "data-day": d, checked: rule.days.includes(d) })
  );
  const custom = el("input", {
    id: "entry-rrule-custom",
    value: rule.custom,
    size: 40,
    placeholder: "FREQ=MONTHLY;BYDAY=1SA",
  });
  const result = el("code", { id: "entry-rrule" });
  const end = el(
    "select",
    { id: "entry-end" },
    el("option", { value: "open" }, "at its next start"),
    el("option", { value: "duration" }, "after a duration"),
    el("option", { value: "clock" }, "at a clock time"),
    SUN.map((a) => el("option", { value: a }, `at ${sunLabel(a)}`))
  );
  end.value =
    e.end_anchor === "duration" || !e.end_anchor ? (e.duration_s == null ? "open" : "duration") : e.end_anchor;
  const duration = el("input", { id: "entry-duration", type: "number", min: 0, step: 1, value: minutes(e.duration_s) });
  const endTime = el("input", { id: "entry-end-time", type: "time", value: e.end_time || "" });
  const endOffset = el("input", {
    id: "entry-end-offset",
    type: "number",
    step: 1,
    min: -720,
    max: 720,
    value: minutes(e.end_offset_s || 0),
  });
  const exdates = el("input", {
    id: "entry-exdates",
    value: (e.exdates || []).join(", "),
    size: 30,
    placeholder: "2026-12-24, 2026-12-31",
  });
  const priority = el("input", {
    id: "entry-priority",
    type: "number",
    min: 0,
    max: 1000,
    step: 1,
    value: e.priority ?? 0,
  });
  const enabled = el("input", { id: "entry-enabled", type: "checkbox", checked: e.enabled ?? true });
  const problems = el("ul", { id: "entry-problems", class: "problems", role: "alert" });

  const timeField = field("at (site clock)", time);
  const offsetField = field("offset, minutes (− before)", offset);
  const cueField = field("cue number", cue);
  const daysField = el(
    "div",
    { class: "row days" },
    days.map((box) => el("label", { class: "check" }, box, box.value))
  );
  const customField = field("custom RRULE (RFC 5545)", custom);
  const durationField = field("minutes", duration);
  const endTimeField = field("end time", endTime);
  const endOffsetField = field("offset, minutes", endOffset);

  function fillTargets() {
    const names = choices[kind.value === "look" ? "look" : "cue_list"] || [];
    const wanted = target.value || e.target;
    target.replaceChildren(...names.map((n) => el("option", { value: n, selected: n === wanted }, n)));
    if (wanted && !names.includes(wanted) && kind.value === e.target_kind) {
      target.append(el("option", { value: wanted, selected: true }, `${wanted} (missing)`));
    }
  }
  const rrule = () =>
    buildRrule(
      preset.value,
      days.filter((b) => b.checked).map((b) => b.value),
      custom.value
    );
  function sync() {
    const sun = anchor.value !== "clock";
    timeField.hidden = sun;
    offsetField.hidden = !sun;
    cueField.hidden = kind.value !== "cue";
    daysField.hidden = preset.value !== "weekly";
    customField.hidden = preset.value !== "custom";
    durationField.hidden = end.value !== "duration";
    endTimeField.hidden = end.value !== "clock";
    endOffsetField.hidden = !SUN.includes(end.value);
    result.textContent = rrule() || "(none: once, on the first date)";
  }
  kind.addEventListener("change", () => {
    fillTargets();
    sync();
  });
  for (const input of [anchor, preset, custom, end, ...days]) input.addEventListener("input", sync);
  for (const input of [anchor, preset, end, ...days]) input.addEventListener("change", sync);
  fillTargets();
  sync();

  // The entry as the daemon takes it; fields the form does not show (canvases, fade, valid
  // dates, extra dates, clamps, zone) are left as they are (PATCH), or default (new).
  function asEntry() {
    const sun = anchor.value !== "clock";
    const endSun = SUN.includes(end.value);
    const doc = {
      name: name.value.trim(),
      target_kind: kind.value,
      target: target.value,
      cue: kind.value === "cue" ? cue.value.trim() : null,
      anchor: anchor.value,
      offset_s: sun ? Number(offset.value || 0) * 60 : 0,
      dtstart: zonedIso(date.value, sun ? "12:00" : time.value, tz), // a sun entry: its date counts
      rrule: rrule(),
      end_anchor: end.value === "open" ? "duration" : end.value,
      duration_s: end.value === "duration" ? Number(duration.value || 0) * 60 : null,
      end_time: end.value === "clock" ? endTime.value : "",
      end_offset_s: endSun ? Number(endOffset.value || 0) * 60 : 0,
      exdates: exdates.value.split(/[\s,]+/).filter(Boolean),
      priority: Number(priority.value || 0),
      enabled: enabled.checked,
    };
    if (kind.value !== "look") doc.canvases = [];
    if (!sun) {
      doc.not_before = "";
      doc.not_after = "";
    }
    return doc;
  }

  const save = el("button", { type: "submit", id: "entry-save", class: "go" }, e.id ? "Save entry" : "Create entry");
  const form = el(
    "form",
    {
      class: "entry-form",
      id: "schedule-form",
      onsubmit: async (ev) => {
        ev.preventDefault();
        problems.replaceChildren();
        save.disabled = true;
        try {
          const doc = asEntry();
          const saved = e.id
            ? await api("PATCH", `/api/schedule/${e.id}`, doc)
            : await api("POST", "/api/schedule", doc);
          toast(`Saved ${saved.entry.name}`);
          await onSaved(saved.entry);
        } catch (err) {
          const listed = err instanceof ApiError && err.body && err.body.problems;
          problems.replaceChildren(
            ...(listed || [err instanceof ApiError ? err.message : String(err)]).map((p) => el("li", {}, p))
          );
          report(err);
        } finally {
          save.disabled = false;
        }
      },
    },
    el("h2", {}, e.id ? `Edit ${e.name}` : "New entry"),
    el(
      "fieldset",
      {},
      el("legend", {}, "What"),
      el("div", { class: "row" }, field("name", name), field("plays", kind), field("which", target), cueField)
    ),
    el(
      "fieldset",
      {},
      el("legend", {}, "When"),
      el("div", { class: "row" }, field("starts at", anchor), timeField, offsetField, field("first date", date))
    ),
    el(
      "fieldset",
      {},
      el("legend", {}, "Repeats"),
      el("div", { class: "row" }, field("repeat", preset), daysField, customField),
      el("p", { class: "dim" }, "RRULE: ", result)
    ),
    el(
      "fieldset",
      {},
      el("legend", {}, "Ends and exceptions"),
      el(
        "div",
        { class: "row" },
        field("ends", end),
        durationField,
        endTimeField,
        endOffsetField,
        field("skip dates", exdates)
      )
    ),
    el(
      "div",
      { class: "row" },
      field("priority (higher wins)", priority),
      el("label", { class: "check" }, enabled, "enabled"),
      save,
      el("button", { type: "button", id: "entry-cancel", onclick: onClose }, "Cancel")
    ),
    problems
  );
  return form;
}
