// The building's schedule: entries (recurrence editing), what plays now and why, the next
// 24 hours, and any date simulated.
import { api } from "./api.js";

export async function mount(main, ui) {
  const { el, toast, report, can } = ui;
  const editable = can("schedule.edit");
  const entriesPanel = el("section", { class: "panel" });
  const nowPanel = el("section", { class: "panel", id: "schedule-now" });
  const linePanel = el("section", { class: "panel" });
  const at = el("input", { type: "datetime-local", id: "simulate-at" });

  async function showEntries() {
    const { entries } = await api("GET", "/api/schedule");
    const rows = entries.map((e) => {
      const rrule = el("input", { value: e.rrule || "", size: 28, disabled: !editable });
      const priority = el("input", { type: "number", value: e.priority, disabled: !editable });
      return el("tr", { "data-entry": e.id }, el("td", {}, e.name), el("td", {}, `${e.target_kind} ${e.target}`),
        el("td", {}, e.anchor === "clock" ? e.start_time || "" : `${e.anchor} ${e.offset_s >= 0 ? "+" : ""}${e.offset_s / 60} min`),
        el("td", {}, rrule), el("td", {}, priority), el("td", {}, e.enabled ? "on" : "off"),
        el("td", {}, el("button", { type: "button", disabled: !editable, onclick: async () => {
          try { await api("PATCH", `/api/schedule/${e.id}`, { rrule: rrule.value, priority: Number(priority.value) }); toast("Saved"); refresh(); }
          catch (err) { report(err); }
        } }, "Save"), el("button", { type: "button", disabled: !editable, onclick: async () => {
          try { await api("POST", `/api/schedule/${e.id}/${e.enabled ? "disable" : "enable"}`); refresh(); } catch (err) { report(err); }
        } }, e.enabled ? "Disable" : "Enable")));
    });
    entriesPanel.replaceChildren(el("h2", {}, "Entries"),
      el("table", {}, el("thead", {}, el("tr", {}, ...["name", "plays", "starts", "recurrence (RRULE)", "priority", "", ""].map((h) => el("th", {}, h)))),
        el("tbody", {}, rows)));
  }

  async function showNow() {
    const q = at.value ? `?at=${encodeURIComponent(at.value)}` : "";
    const why = await api("GET", `/api/schedule/now${q}`);
    const rows = Object.entries(why.canvases).map(([canvas, v]) => el("tr", { "data-canvas": canvas },
      el("td", {}, canvas), el("td", { class: "winner" }, v.winner ? `${v.winner.entry.name} (${v.winner.entry.target})` : "— idle look"),
      el("td", { class: "dim" }, v.beaten.map((b) => `${b.entry || b.name || ""} ${b.reason}`).join("; "))));
    nowPanel.replaceChildren(el("h2", {}, `What plays ${at.value ? "at " + why.at : "now"}, and why`),
      el("div", { class: "row" }, at, el("button", { type: "button", id: "simulate", onclick: () => showNow().catch(report) }, "Simulate"),
        el("span", { class: "dim" }, why.timezone)),
      el("table", {}, el("tbody", {}, rows)));
  }

  async function showTimeline() {
    const line = await api("GET", "/api/schedule/timeline?hours=24");
    const items = line.transitions.map((t) => el("div", {}, `${t.at.slice(0, 16).replace("T", " ")}  ${t.canvas}: ${t.from || "idle"} → ${t.to || "idle"}`));
    linePanel.replaceChildren(el("h2", {}, "Next 24 hours"), el("div", { class: "timeline" }, items.length ? items : el("p", { class: "dim" }, "No changes")));
  }

  async function refresh() { await Promise.all([showEntries(), showNow(), showTimeline()]); }
  main.replaceChildren(nowPanel, linePanel, entriesPanel);
  await refresh();
  return { stop() {} };
}
