// The show's history (docs/snapshots.md): every snapshot (who, when, why), the diff between
// two of them (or one and the show now), a rollback to one, and the show exported/imported.
import { api, siteTime, siteZone } from "./api.js";

const PAGE = 100;

export async function mount(main, ui) {
  const { el, toast, report, can, confirmAction } = ui;
  const tz = await siteZone();
  const picked = []; // at most two hashes, the older first once both are picked
  const diffBox = el("div", { id: "history-diff" });
  const list = el("tbody", { id: "history-list" });
  const editable = can("show.edit");

  async function load() {
    const page = await api("GET", `/api/snapshots?limit=${PAGE}`);
    list.replaceChildren(...page.items.map(row));
  }

  function row(s) {
    const box = el("input", {
      type: "checkbox",
      "aria-label": `pick snapshot ${s.hash.slice(0, 12)}`,
      onchange: (ev) => pick(s.hash, ev.target.checked),
    });
    return el(
      "tr",
      { "data-hash": s.hash },
      el("td", {}, box),
      el("td", {}, siteTime(s.created_at, tz)),
      el("td", {}, s.actor),
      el("td", { class: "message" }, s.message),
      el("td", {}, el("code", {}, s.hash.slice(0, 12))),
      el(
        "td",
        {},
        editable ? el("button", { type: "button", class: "rollback", onclick: () => rollback(s) }, "Roll back") : null
      )
    );
  }

  function pick(hash, on) {
    const at = picked.indexOf(hash);
    if (on && at < 0) picked.push(hash);
    if (!on && at >= 0) picked.splice(at, 1);
    while (picked.length > 2) {
      const dropped = picked.shift();
      const box = list.querySelector(`tr[data-hash="${dropped}"] input`);
      if (box) box.checked = false;
    }
    showDiff().catch(report);
  }

  async function showDiff() {
    if (picked.length === 0) return diffBox.replaceChildren();
    // Rows are newest first: the lower row is the older one, the "from" side.
    const order = [...list.children].map((tr) => tr.dataset.hash);
    const [a, b] = [...picked].sort((x, y) => order.indexOf(y) - order.indexOf(x));
    const to = b ? `&to=${b}` : "";
    const out = await api("GET", `/api/snapshots/${a}/diff?${to.slice(1)}`);
    const title = `Changes from ${a.slice(0, 12)} to ${b ? b.slice(0, 12) : "the show now"}`;
    diffBox.replaceChildren(
      el("h3", {}, title),
      out.changes.length === 0
        ? el("p", { class: "dim" }, "No differences.")
        : el(
            "ul",
            { class: "diff" },
            out.changes.map((c) =>
              el(
                "li",
                { class: `change ${c.change}`, "data-kind": c.kind, "data-name": c.name },
                `${c.kind.replace("_", " ")} ${c.name}: ${c.change}`,
                c.fields ? ` (${c.fields.join(", ")})` : ""
              )
            )
          )
    );
  }

  async function rollback(s) {
    const ok = await confirmAction(
      `Roll the show back to ${s.hash.slice(0, 12)} (${s.message}, ${siteTime(s.created_at, tz)})?`
    );
    if (!ok) return;
    try {
      const out = await api("POST", `/api/snapshots/${s.hash}/rollback`);
      toast(`Rolled back: ${out.changes.length} changes`);
      if (out.restart_required) toast("The patch or settings changed: they take effect at the next start");
      await load();
      picked.length = 0;
      diffBox.replaceChildren();
    } catch (e) {
      report(e);
    }
  }

  async function exportShow() {
    try {
      const doc = await api("GET", "/api/show/export");
      const blob = new Blob([JSON.stringify(doc, null, 2) + "\n"], { type: "application/json" });
      const a = el("a", { href: URL.createObjectURL(blob), download: `${doc.name || "show"}.json` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 1000);
    } catch (e) {
      report(e);
    }
  }

  const file = el("input", {
    type: "file",
    id: "history-import",
    accept: "application/json,.json",
    hidden: true,
    onchange: async () => {
      const chosen = file.files[0];
      file.value = "";
      if (!chosen) return;
      try {
        let doc;
        try {
          doc = JSON.parse(await chosen.text());
        } catch (e) {
          return report(`${chosen.name}: not JSON (${e.message})`);
        }
        if (!(await confirmAction(`Replace the whole show with ${chosen.name}?`))) return;
        const out = await api("POST", "/api/show/import", doc);
        toast(`Imported: ${out.changes.length} changes`);
        await load();
      } catch (e) {
        report(e);
      }
    },
  });

  main.replaceChildren(
    el(
      "section",
      { class: "panel" },
      el("h2", {}, "History"),
      el(
        "p",
        {},
        el("button", { type: "button", id: "history-export", onclick: exportShow }, "Export"),
        " ",
        editable ? el("button", { type: "button", onclick: () => file.click() }, "Import…") : null,
        file,
        el("span", { class: "dim" }, " Pick two snapshots to compare them; one alone is compared with the show now.")
      ),
      el(
        "table",
        {},
        el(
          "thead",
          {},
          el("tr", {}, ...["", `when (${tz})`, "who", "change", "snapshot", ""].map((h) => el("th", {}, h)))
        ),
        list
      ),
      diffBox
    )
  );
  await load();
  return { stop() {} };
}
