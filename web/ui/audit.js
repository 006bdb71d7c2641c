// The audit log: who did what, from where.
import { api } from "./api.js";

export async function mount(main, ui) {
  const { el } = ui;
  const page = await api("GET", "/api/audit?limit=200");
  main.replaceChildren(el("section", { class: "panel" }, el("h2", {}, "Audit log"), el("table", {},
    el("thead", {}, el("tr", {}, ...["when", "who", "role", "via", "action", "target"].map((h) => el("th", {}, h)))),
    el("tbody", {}, page.items.map((a) => el("tr", {}, el("td", {}, a.at.replace("T", " ").slice(0, 19)),
      el("td", {}, a.actor), el("td", {}, a.role), el("td", {}, a.origin), el("td", {}, a.action), el("td", {}, a.target)))))));
  return { stop() {} };
}
