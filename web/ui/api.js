// Tokens, the REST helper and the WebSocket: everything that talks to the daemon.
// Tokens live in memory and sessionStorage, never in cookies: requests carry them in the
// Authorization header, which another site cannot make the browser send (no CSRF).

const KEY = "trocadero.session";
let session = JSON.parse(sessionStorage.getItem(KEY) || "null");
let refreshing = null;

export function user() {
  return session && session.user;
}
export function has(feature) {
  return !!(session && session.features && session.features.includes(feature));
}
export function mustChange() {
  return !!(session && session.mustChange);
}
export function can(group) {
  return !!(session && session.permissions && session.permissions.includes(group));
}

function save(s) {
  session = s;
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.error || (body.problems || []).join("; "))) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function raw(method, path, body, token) {
  const headers = { "X-Trocadero-Client": "ui" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers["Authorization"] = `Bearer ${token}`;
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let doc;
  try {
    doc = text ? JSON.parse(text) : null;
  } catch {
    doc = { error: text };
  }
  if (!r.ok) throw new ApiError(r.status, doc);
  return doc;
}

async function adopt(pair) {
  const s = {
    access: pair.access_token,
    refresh: pair.refresh_token,
    user: pair.user,
    expires: Date.now() + pair.expires_in * 1000,
    mustChange: pair.password_change_required,
  };
  save(s);
  if (!s.mustChange) {
    const me = await raw("GET", "/api/auth/me", undefined, s.access);
    save({ ...s, permissions: me.permissions, features: me.features });
  }
  return session;
}

export async function login(username, password) {
  return adopt(await raw("POST", "/api/auth/login", { name: username, password }));
}

export async function changePassword(current, next) {
  await raw("POST", "/api/auth/password", { current_password: current, new_password: next }, session.access);
  save(null);
}

export async function logout() {
  if (session) {
    try {
      await raw("POST", "/api/auth/logout", { refresh_token: session.refresh });
    } catch {
      /* the session ends here regardless */
    }
  }
  save(null);
}

async function refresh() {
  if (!session) throw new ApiError(401, { error: "not logged in" });
  refreshing ??= raw("POST", "/api/auth/refresh", { refresh_token: session.refresh })
    .then(adopt)
    .catch((e) => {
      save(null);
      throw e;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

export async function token() {
  if (!session) throw new ApiError(401, { error: "not logged in" });
  if (Date.now() > session.expires - 60_000) await refresh();
  return session.access;
}

export async function api(method, path, body) {
  try {
    return await raw(method, path, body, await token());
  } catch (e) {
    if (e.status === 401 && session) {
      await refresh();
      return raw(method, path, body, session.access);
    }
    throw e;
  }
}

// One WebSocket for the page: events by topic, previews by canvas. Reconnects on loss.
export class Live {
  constructor() {
    this.handlers = new Map();
    this.previewHandlers = new Map();
    this.topics = new Set();
    this.preview = { canvases: [], fps: 10 };
    this.ws = null;
    this.closed = false;
  }
  on(topic, fn) {
    this.handlers.set(topic, fn);
    this.topics.add(topic);
    this.send({ op: "subscribe", topics: [topic] });
  }
  onPreview(canvas, fn) {
    this.previewHandlers.set(canvas, fn);
  }
  setPreview(canvases, fps) {
    this.preview = { canvases, fps };
    this.send({ op: "preview", ...this.preview });
  }
  send(doc) {
    if (this.ws && this.ws.readyState === 1 && this.ready) this.ws.send(JSON.stringify(doc));
  }
  async connect() {
    if (this.closed) return;
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.ready = false;
    ws.onopen = async () => ws.send(JSON.stringify({ op: "auth", token: await token() }));
    ws.onmessage = (m) => {
      if (typeof m.data !== "string") return this.frame(m.data);
      const doc = JSON.parse(m.data);
      if (doc.reply === "auth" && doc.ok && !this.ready) {
        this.ready = true;
        if (this.topics.size) this.send({ op: "subscribe", topics: [...this.topics] });
        if (this.preview.canvases.length) this.send({ op: "preview", ...this.preview });
        this.renew = setInterval(async () => this.send({ op: "auth", token: await token() }), 60_000);
      } else if (doc.event) {
        const fn = this.handlers.get(doc.event) || this.handlers.get(doc.event.split(":")[0] + ":*");
        if (fn) fn(doc.data, doc);
      }
    };
    ws.onclose = () => {
      clearInterval(this.renew);
      if (!this.closed) setTimeout(() => this.connect(), 1000);
    };
  }
  frame(buf) {
    const v = new DataView(buf);
    const n = v.getUint8(1);
    const name = new TextDecoder().decode(new Uint8Array(buf, 2, n));
    const width = v.getUint16(2 + n),
      height = v.getUint16(4 + n),
      time = v.getFloat64(6 + n);
    const fn = this.previewHandlers.get(name);
    if (fn) fn({ width, height, time, rgb: new Uint8Array(buf, 14 + n) });
  }
  close() {
    this.closed = true;
    clearInterval(this.renew);
    if (this.ws) this.ws.close();
  }
}

// The site's wall clock (the schedule's time zone, [site] timezone): every time the UI shows
// is on it, not on the browser's. Asked once per session; the browser's zone if unknown.
let zone = null;
export async function siteZone() {
  if (zone) return zone;
  try {
    zone = (await api("GET", "/api/schedule/now")).timezone;
  } catch {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  }
  return zone;
}
export function siteTime(iso, tz) {
  const d = iso ? new Date(iso) : new Date();
  return new Intl.DateTimeFormat("sv-SE", {
    timeZone: tz,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).format(d);
}
