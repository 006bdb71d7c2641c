// The shell: login, navigation between pages, notices and confirmations.
import { ApiError, can, changePassword, has, login, logout, mustChange, siteTime, siteZone, user } from "./api.js";

const pages = {
  show: () => import("./show.js"),
  edit: () => import("./edit.js"),
  schedule: () => import("./schedule.js"),
  content: () => import("./content.js"),
  system: () => import("./system.js"),
  devices: () => import("./devices.js"),
  audit: () => import("./audit.js"),
  users: () => import("./users.js"),
  building: () => import("./building.js"),
  patch: () => import("./patch.js"),
  history: () => import("./history.js"),
  rules: () => import("./rules.js"),
  touch: () => import("./touch.js"),
  cameras: () => import("./cameras.js"),
  video: () => import("./video.js"),
};
// What a page needs: a permission group of the user's role, or a part the daemon serves.
// A page the user may not use is not shown (a viewer gets no Audit tab that answers 403).
const needs = {
  audit: () => can("audit.read"),
  users: () => can("users.manage"),
  devices: () => has("mdvr"),
  building: () => can("read"),
  patch: () => can("read"),
  history: () => can("read"),
  rules: () => can("read"),
  touch: () => can("read"),
  cameras: () => has("cameras"),
  video: () => has("mdvr") && can("video:watch"),
};
const usable = (page) => !needs[page] || needs[page]();
let current = null;
let visits = 0;

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else if (v === true) node.setAttribute(k, "");
    else if (v !== false && v != null) node.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c != null) node.append(c instanceof Node ? c : String(c));
  return node;
}

export function toast(text, error = false) {
  const t = document.getElementById("toast");
  t.textContent = text;
  t.className = `show${error ? " error" : ""}`;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => {
    t.className = "";
  }, 4000);
}

export function report(e) {
  toast(e instanceof ApiError ? `${e.status}: ${e.message}` : String(e), true);
}

export function confirmAction(text) {
  const d = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  return new Promise((resolve) => {
    d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
    d.showModal();
  });
}

function loginPage(main) {
  const name = el("input", { id: "username", autocomplete: "username", placeholder: "user name" });
  const pass = el("input", {
    id: "password",
    type: "password",
    autocomplete: "current-password",
    placeholder: "password",
  });
  const form = el(
    "form",
    {
      class: "login panel",
      onsubmit: async (ev) => {
        ev.preventDefault();
        try {
          const s = await login(name.value, pass.value);
          if (s.mustChange) return passwordPage(main, pass.value);
          route();
        } catch (e) {
          report(e);
        }
      },
    },
    el("h1", {}, "Trocadero"),
    name,
    pass,
    el("button", { type: "submit", id: "login" }, "Log in")
  );
  main.replaceChildren(form);
  name.focus();
}

function passwordPage(main, oldPassword) {
  const next = el("input", { id: "new-password", type: "password", placeholder: "new password (10+ characters)" });
  main.replaceChildren(
    el(
      "form",
      {
        class: "login panel",
        onsubmit: async (ev) => {
          ev.preventDefault();
          try {
            await changePassword(oldPassword, next.value);
            toast("Password changed: log in again");
            loginPage(main);
          } catch (e) {
            report(e);
          }
        },
      },
      el("h2", {}, "Choose your password"),
      next,
      el("button", { type: "submit" }, "Save")
    )
  );
}

// The site's clock in the header, with its zone.
let clockTimer = null;
async function startClock() {
  if (clockTimer) return;
  const tz = await siteZone();
  const clock = document.getElementById("clock");
  const tick = () => {
    clock.textContent = `${siteTime(null, tz).slice(11)} ${tz}`;
  };
  tick();
  clockTimer = setInterval(tick, 1000);
}

async function route() {
  const main = document.getElementById("main");
  const bar = document.getElementById("bar");
  if (current && current.stop) current.stop();
  current = null;
  if (!user() || mustChange()) {
    bar.hidden = true;
    return loginPage(main);
  }
  bar.hidden = false;
  document.getElementById("who").textContent = `${user().name} (${user().role})`;
  startClock();
  const asked = (location.hash.replace(/^#\//, "") || "show").split("/")[0];
  const name = pages[asked] && usable(asked) ? asked : "show";
  for (const a of document.querySelectorAll("#nav a")) {
    a.hidden = !usable(a.dataset.page);
    a.classList.toggle("active", a.dataset.page === name);
  }
  const load = pages[name];
  const visit = ++visits;
  main.replaceChildren(el("p", { class: "dim" }, "Loading…"));
  // Each page renders into its own container, shown only if it is still the page asked
  // for when it is ready (a quick second navigation must not be overwritten by the first).
  const container = el("div", { class: "page", "data-page": name });
  try {
    const mod = await load();
    const page = await mod.mount(container, { el, toast, report, confirmAction, can });
    if (visit !== visits) {
      if (page && page.stop) page.stop();
      return;
    }
    current = page;
    main.replaceChildren(container);
    performance.mark(`page:${name}`); // ready to use (benches/ui_show.py reads it)
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      await logout();
      return route();
    }
    report(e);
  }
}

document.getElementById("logout").addEventListener("click", async () => {
  await logout();
  location.hash = "";
  route();
});
window.addEventListener("hashchange", route);
route();
