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
        el("td", {}, e.anchor === "clock" ? e.start_time || (e.dtstart || "").slice(11, 16) : `${e.anchor} ${e.offset_s >= 0 ? "+" : ""}${e.offset_s / 60} min`),
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

  // The week as a calendar: each day's scheduled plays (from the resolved timeline, so
  // recurrences, sun times, exceptions and precedence are already applied).
  const weekPanel = el("section", { class: "panel", id: "schedule-week" });
  async function showWeek() {
    const today = new Date(); today.setHours(0, 0, 0, 0);
    const line = await api("GET", `/api/schedule/timeline?hours=168&from=${encodeURIComponent(today.toISOString())}`);
    const plays = new Map();  // "day|start|entry" → {day, start, end, entry, canvases}
    for (const [canvas, segments] of Object.entries(line.canvases)) {
      for (const s of segments) {
        if (!s.entry) continue;
        const key = `${s.start.slice(0, 10)}|${s.start}|${s.entry}`;
        const play = plays.get(key) || { day: s.start.slice(0, 10), start: s.start.slice(11, 16), end: s.end.slice(11, 16), entry: s.entry, canvases: [] };
        play.canvases.push(canvas);
        plays.set(key, play);
      }
    }
    const days = [...Array(7).keys()].map((i) => { const d = new Date(today); d.setDate(d.getDate() + i); return d; });
    const columns = days.map((d) => {
      const iso = `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
      const items = [...plays.values()].filter((p) => p.day === iso).sort((a, b) => a.start.localeCompare(b.start));
      return el("div", { class: "day", "data-day": iso }, el("h3", {}, d.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" })),
        ...(items.length ? items.map((p) => el("div", { class: "play", title: p.canvases.join(", ") }, `${p.start}–${p.end} ${p.entry}`))
                         : [el("p", { class: "dim" }, "—")]));
    });
    weekPanel.replaceChildren(el("h2", {}, "This week"), el("div", { class: "week" }, columns));
  }

  async function refresh() { await Promise.all([showEntries(), showNow(), showTimeline(), showWeek()]); }
  main.replaceChildren(nowPanel, weekPanel, linePanel, entriesPanel);
  await refresh();
  return { stop() {} };
}
