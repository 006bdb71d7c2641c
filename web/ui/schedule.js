// The building's schedule: entries (created, edited and deleted in one form by those who may
// edit the schedule), what plays now and why, the next 24 hours, and any date simulated.
import { api, siteZone } from "./api.js";
import { undoBar } from "./undo.js";
import { wallClock, zonedIso } from "./recurrence.js";
import { entryForm } from "./schedule_form.js";

export async function mount(main, ui) {
  const { el, toast, report, can, confirmAction } = ui;
  const editable = can("schedule.edit");
  const zone = await siteZone();
  const entriesPanel = el("section", { class: "panel", id: "schedule-entries" });
  const formPanel = el("section", { class: "panel", id: "schedule-edit", hidden: true });
  const nowPanel = el("section", { class: "panel", id: "schedule-now" });
  const linePanel = el("section", { class: "panel" });
  const at = el("input", { type: "datetime-local", id: "simulate-at" });
  // What an entry may play, asked once: the show's cue lists and looks.
  const choices = editable
    ? {
        cue_list: (await api("GET", "/api/cue-lists?limit=1000")).items.map((l) => l.name),
        look: (await api("GET", "/api/looks?limit=1000")).items.map((l) => l.name),
      }
    : {};

  function openForm(entry) {
    formPanel.replaceChildren(
      entryForm(ui, {
        entry,
        choices,
        zone,
        onSaved: async () => {
          closeForm();
          await refresh();
        },
        onClose: closeForm,
      })
    );
    formPanel.hidden = false;
    formPanel.scrollIntoView({ block: "start" });
    document.getElementById("entry-name").focus();
  }
  function closeForm() {
    formPanel.hidden = true;
    formPanel.replaceChildren();
  }

  const mins = (s) => `${s >= 0 ? "+" : "−"}${Math.abs(Math.round(s / 60))} min`;
  function starts(e) {
    const clock = wallClock(e.dtstart, e.timezone || zone);
    const when = e.anchor === "clock" ? clock.time : `${e.anchor.replace("_", " ")} ${mins(e.offset_s)}`;
    return `${when} from ${clock.date}`;
  }
  function ends(e) {
    if (e.end_anchor === "clock") return `at ${e.end_time}`;
    if (e.end_anchor !== "duration") return `at ${e.end_anchor.replace("_", " ")} ${mins(e.end_offset_s)}`;
    return e.duration_s == null ? "at its next start" : `after ${Math.round(e.duration_s / 60)} min`;
  }

  async function showEntries() {
    const { entries } = await api("GET", "/api/schedule");
    const rows = entries.map((e) =>
      el(
        "tr",
        { "data-entry": e.id },
        el("td", { class: "name" }, e.name),
        el("td", {}, `${e.target_kind.replace("_", " ")} ${e.target}${e.cue != null ? ` cue ${e.cue}` : ""}`),
        el("td", { class: "starts" }, starts(e)),
        el("td", { class: "rrule" }, el("code", {}, e.rrule || "once")),
        el("td", {}, ends(e)),
        el("td", { class: "priority" }, e.priority),
        el("td", { class: "enabled" }, e.enabled ? "on" : "off"),
        editable
          ? el(
              "td",
              {},
              el(
                "div",
                { class: "row entry-actions" },
                el("button", { type: "button", class: "edit", onclick: () => openForm(e) }, "Edit"),
                el(
                  "button",
                  {
                    type: "button",
                    class: "toggle",
                    onclick: async () => {
                      try {
                        await api("POST", `/api/schedule/${e.id}/${e.enabled ? "disable" : "enable"}`);
                        await refresh();
                      } catch (err) {
                        report(err);
                      }
                    },
                  },
                  e.enabled ? "Disable" : "Enable"
                ),
                el(
                  "button",
                  {
                    type: "button",
                    class: "delete danger",
                    onclick: async () => {
                      if (!(await confirmAction(`Delete the schedule entry "${e.name}"?`))) return;
                      try {
                        await api("DELETE", `/api/schedule/${e.id}`);
                        toast(`Deleted ${e.name}`);
                        closeForm();
                        await refresh();
                      } catch (err) {
                        report(err);
                      }
                    },
                  },
                  "Delete"
                )
              )
            )
          : null
      )
    );
    const heads = [
      "name",
      "plays",
      "starts",
      "repeats (RRULE)",
      "ends",
      "priority",
      "enabled",
      ...(editable ? [""] : []),
    ];
    entriesPanel.replaceChildren(
      el(
        "div",
        { class: "row" },
        el("h2", {}, "Entries"),
        editable ? el("button", { type: "button", id: "entry-new", onclick: () => openForm(null) }, "New entry") : null
      ),
      el(
        "table",
        {},
        el("thead", {}, el("tr", {}, ...heads.map((h) => el("th", {}, h)))),
        el(
          "tbody",
          {},
          rows.length ? rows : el("tr", {}, el("td", { class: "dim", colspan: heads.length }, "No entries"))
        )
      )
    );
  }

  async function showNow() {
    const q = at.value ? `?at=${encodeURIComponent(at.value)}` : "";
    const why = await api("GET", `/api/schedule/now${q}`);
    const rows = Object.entries(why.canvases).map(([canvas, v]) =>
      el(
        "tr",
        { "data-canvas": canvas },
        el("td", {}, canvas),
        el("td", { class: "winner" }, v.winner ? `${v.winner.entry.name} (${v.winner.entry.target})` : "— idle look"),
        el("td", { class: "dim" }, v.beaten.map((b) => `${b.entry || b.name || ""} ${b.reason}`).join("; "))
      )
    );
    nowPanel.replaceChildren(
      el("h2", {}, `What plays ${at.value ? "at " + why.at : "now"}, and why`),
      el(
        "div",
        { class: "row" },
        at,
        el("button", { type: "button", id: "simulate", onclick: () => showNow().catch(report) }, "Simulate"),
        el("span", { class: "dim" }, why.timezone)
      ),
      el("table", {}, el("tbody", {}, rows))
    );
  }

  async function showTimeline() {
    const line = await api("GET", "/api/schedule/timeline?hours=24");
    const items = line.transitions.map((t) =>
      el("div", {}, `${t.at.slice(0, 16).replace("T", " ")}  ${t.canvas}: ${t.from || "idle"} → ${t.to || "idle"}`)
    );
    linePanel.replaceChildren(
      el("h2", {}, "Next 24 hours"),
      el("div", { class: "timeline" }, items.length ? items : el("p", { class: "dim" }, "No changes"))
    );
  }

  // The week as a calendar: each day's scheduled plays (from the resolved timeline, so
  // recurrences, sun times, exceptions and precedence are already applied).
  const weekPanel = el("section", { class: "panel", id: "schedule-week" });
  async function showWeek() {
    // From midnight on the site's clock (not the browser's), days named by the site's dates.
    const today = wallClock(new Date().toISOString(), zone).date;
    const from = zonedIso(today, "00:00", zone);
    const line = await api("GET", `/api/schedule/timeline?hours=168&from=${encodeURIComponent(from)}`);
    const plays = new Map(); // "day|start|entry" → {day, start, end, entry, canvases}
    for (const [canvas, segments] of Object.entries(line.canvases)) {
      for (const s of segments) {
        if (!s.entry) continue;
        const key = `${s.start.slice(0, 10)}|${s.start}|${s.entry}`;
        const play = plays.get(key) || {
          day: s.start.slice(0, 10),
          start: s.start.slice(11, 16),
          end: s.end.slice(11, 16),
          entry: s.entry,
          canvases: [],
        };
        play.canvases.push(canvas);
        plays.set(key, play);
      }
    }
    const days = [...Array(7).keys()].map((i) => {
      const d = new Date(`${today}T12:00:00Z`);
      d.setUTCDate(d.getUTCDate() + i);
      return d;
    });
    const columns = days.map((d) => {
      const iso = d.toISOString().slice(0, 10);
      const items = [...plays.values()].filter((p) => p.day === iso).sort((a, b) => a.start.localeCompare(b.start));
      return el(
        "div",
        { class: "day", "data-day": iso },
        el(
          "h3",
          {},
          d.toLocaleDateString(undefined, { timeZone: "UTC", weekday: "short", day: "numeric", month: "short" })
        ),
        ...(items.length
          ? items.map((p) =>
              el("div", { class: "play", title: p.canvases.join(", ") }, `${p.start}–${p.end} ${p.entry}`)
            )
          : [el("p", { class: "dim" }, "—")])
      );
    });
    weekPanel.replaceChildren(el("h2", {}, "This week"), el("div", { class: "week" }, columns));
  }

  async function refresh() {
    undo.refresh();
    await Promise.all([showEntries(), showNow(), showTimeline(), showWeek()]);
  }
  // Undo of the last edit (undo.js): a schedule entry's change, deletion or creation too.
  const undo = undoBar(ui, refresh);
  main.replaceChildren(undo.node, nowPanel, weekPanel, linePanel, entriesPanel, formPanel);
  await refresh();
  return { stop() {} };
}
