// The Undo button of the edit and schedule pages: what the caller's last show edit was (GET /api/edits/last)
// and reverting it (POST /api/edits/undo). The daemon refuses (409) when the object changed
// since or there is nothing left to undo; the refusal is shown like any other error.
import { api } from "./api.js";

const KINDS = { look: "look", cue_list: "cue list", cue: "cue", schedule: "schedule entry" };

function ago(at) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(at)) / 1000));
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

export function describe(edit) {
  return `${KINDS[edit.kind] || edit.kind} "${edit.name}" ${edit.change} by ${edit.actor} ${ago(edit.at)}`;
}

// `undone()` runs after a successful undo (the page reloads what it shows).
export function undoBar(ui, undone) {
  const { el, toast, report, can } = ui;
  const button = el("button", { type: "button", id: "undo", disabled: true }, "Nothing to undo");
  const node = el("div", { class: "row undo-bar", hidden: !can("show.edit") }, button);
  let last = null;

  async function refresh() {
    if (!can("show.edit")) return;
    try {
      last = (await api("GET", "/api/edits/last")).edit;
    } catch (e) {
      report(e);
      last = null;
    }
    button.disabled = !last;
    button.textContent = last ? `Undo: ${describe(last)}` : "Nothing to undo";
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const out = await api("POST", "/api/edits/undo");
      toast(`Undone: ${describe(out.undone)}`);
      await undone();
    } catch (e) {
      report(e);
    }
    await refresh();
  });

  return { node, refresh };
}
