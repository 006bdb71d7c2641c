// The audit log: who did what, from where.
import { api, siteTime, siteZone } from "./api.js";

export async function mount(main, ui) {
  const { el } = ui;
  const page = await api("GET", "/api/audit?limit=200");
  const tz = await siteZone(); // times on the site's clock, as the schedule's are
  main.replaceChildren(
    el(
      "section",
      { class: "panel" },
      el("h2", {}, "Audit log"),
      el(
        "table",
        {},
        el(
          "thead",
          {},
          el("tr", {}, ...[`when (${tz})`, "who", "role", "via", "action", "target"].map((h) => el("th", {}, h)))
        ),
        el(
          "tbody",
          {},
          page.items.map((a) =>
            el(
              "tr",
              {},
              el("td", {}, siteTime(a.at, tz)),
              el("td", {}, a.actor),
              el("td", {}, a.role),
              el("td", {}, a.origin),
              el("td", {}, a.action),
              el("td", {}, a.target)
            )
          )
        )
      )
    )
  );
  return { stop() {} };
}
