// Users and roles (admins): the accounts, a new one, role changes, disabling.
import { api } from "./api.js";

const ROLES = ["admin", "operator", "marketing", "viewer"];

export async function mount(main, ui) {
  const { el, report, toast } = ui;
  const section = el("section", { class: "panel", id: "users" });

  async function change(name, body) {
    try {
      await api("PATCH", `/api/users/${encodeURIComponent(name)}`, body);
      toast(`${name} changed`);
      await show();
    } catch (e) {
      report(e);
    }
  }

  async function show() {
    const page = await api("GET", "/api/users?limit=1000");
    const rows = page.users.map((u) =>
      el(
        "tr",
        { "data-user": u.name },
        el("td", {}, u.name),
        el(
          "td",
          {},
          el(
            "select",
            { class: "role", onchange: (ev) => change(u.name, { role: ev.target.value }) },
            ...ROLES.map((r) => el("option", { selected: r === u.role }, r))
          )
        ),
        el("td", {}, u.email || ""),
        el("td", {}, u.last_login ? u.last_login.replace("T", " ").slice(0, 16) : "never"),
        el(
          "td",
          {},
          el(
            "button",
            {
              type: "button",
              class: u.disabled ? "enable" : "disable",
              onclick: () => change(u.name, { disabled: !u.disabled }),
            },
            u.disabled ? "Enable" : "Disable"
          )
        )
      )
    );
    const name = el("input", { id: "new-user", placeholder: "user name" });
    const role = el("select", { id: "new-role" }, ...ROLES.map((r) => el("option", { selected: r === "operator" }, r)));
    const password = el("input", {
      id: "new-password-user",
      type: "password",
      placeholder: "password (10+ characters)",
    });
    const create = el(
      "form",
      {
        class: "row",
        onsubmit: async (ev) => {
          ev.preventDefault();
          try {
            await api("POST", "/api/users", { name: name.value, role: role.value, password: password.value });
            toast(`${name.value} created`);
            await show();
          } catch (e) {
            report(e);
          }
        },
      },
      name,
      role,
      password,
      el("button", { type: "submit", id: "create-user" }, "Add user")
    );
    section.replaceChildren(
      el("h2", {}, "Users"),
      create,
      el(
        "table",
        {},
        el("thead", {}, el("tr", {}, ...["name", "role", "e-mail", "last login", ""].map((h) => el("th", {}, h)))),
        el("tbody", {}, rows)
      )
    );
  }

  await show();
  main.replaceChildren(section);
  return { stop() {} };
}
