// The blob view (docs/cameras.md): each camera's newest picture (GET
// /api/cameras/{name}/snapshot.jpg) with the blobs tracked in that very picture drawn over it
// (its X-Blobs header: boxes, centres and persistent ids), the tracker's state, and its live
// blobs as a table (GET /api/cameras, polled faster than pictures come).
import { api, token } from "./api.js";

const BLOBS_MS = 250;
const PICTURE_MS = 500;

export async function mount(main, ui) {
  const { el, report } = ui;
  const views = new Map(); // camera name → its panel's parts
  let stopped = false;
  let blobTimer = null;
  let pictureTimer = null;
  let lastError = "";

  function view(name) {
    let v = views.get(name);
    if (v) return v;
    const img = el("img", { class: "blob-picture", alt: `camera ${name}` });
    const overlay = el("canvas", { class: "blob-overlay", "data-drawn": "0" });
    const state = el("p", { class: "dim", "data-field": "state" });
    const table = el("tbody");
    const panel = el(
      "section",
      { class: "panel blob-camera", "data-camera": name },
      el("h2", {}, `Camera ${name}`),
      state,
      el("div", { class: "blob-view" }, img, overlay),
      el(
        "table",
        { class: "blob-table" },
        el("thead", {}, el("tr", {}, ...["id", "x", "y", "size", "age"].map((h) => el("th", {}, h)))),
        table
      )
    );
    v = { img, overlay, state, table, panel, url: null };
    views.set(name, v);
    main.append(panel);
    return v;
  }

  // blobs: [[id, x, y, w, h], …] in fractions of the picture
  function draw(v, blobs) {
    const [w, h] = [v.img.naturalWidth || 640, v.img.naturalHeight || 480];
    const c = v.overlay;
    if (c.width !== w || c.height !== h) {
      c.width = w;
      c.height = h;
    }
    const g = c.getContext("2d");
    g.clearRect(0, 0, w, h);
    g.lineWidth = Math.max(2, w / 320);
    g.font = `${Math.round(h / 24)}px sans-serif`;
    for (const [id, x, y, bx, by] of blobs) {
      const bw = bx * w;
      const bh = by * h;
      g.strokeStyle = "#ffb000";
      g.strokeRect(x * w - bw / 2, y * h - bh / 2, bw, bh);
      g.fillStyle = "#ff3030";
      g.beginPath();
      g.arc(x * w, y * h, g.lineWidth * 2, 0, 2 * Math.PI);
      g.fill();
      g.fillStyle = "#ffffff";
      g.fillText(String(id), x * w - bw / 2, y * h - bh / 2 - 4);
    }
    c.dataset.drawn = String(blobs.length);
    c.dataset.ids = blobs.map((b) => b[0]).join(",");
  }

  function show(cam) {
    const v = view(cam.name);
    const age = cam.last_frame_age_s == null ? "no frame yet" : `last frame ${cam.last_frame_age_s.toFixed(2)} s ago`;
    v.state.textContent = `${cam.state}: ${cam.blobs.length} blobs, ${age}${cam.last_error ? ` — ${cam.last_error}` : ""}`;
    v.state.className = cam.up ? "dim" : "error";
    v.panel.dataset.state = cam.state;
    v.hasPicture = cam.snapshot_age_s != null;
    v.table.replaceChildren(
      ...cam.blobs.map((b) =>
        el(
          "tr",
          { "data-blob": String(b.id) },
          el("td", {}, String(b.id)),
          el("td", {}, b.x.toFixed(3)),
          el("td", {}, b.y.toFixed(3)),
          el("td", {}, `${(b.w * 100).toFixed(1)}×${(b.h * 100).toFixed(1)} %`),
          el("td", {}, `${b.age_s.toFixed(1)} s`)
        )
      )
    );
  }

  async function blobs() {
    try {
      const items = (await api("GET", "/api/cameras")).items;
      lastError = "";
      if (!items.length && !views.size)
        main.replaceChildren(el("p", { class: "dim", id: "cameras-empty" }, "No cameras configured."));
      for (const cam of items) show(cam);
    } catch (e) {
      // One notice per kind of failure, not one every quarter second.
      if (String(e) !== lastError) report(e);
      lastError = String(e);
    }
    if (!stopped) blobTimer = setTimeout(blobs, BLOBS_MS);
  }

  async function pictures() {
    for (const [name, v] of views) {
      if (!v.hasPicture) continue; // none sent yet: the state line says why
      try {
        const r = await fetch(`/api/cameras/${encodeURIComponent(name)}/snapshot.jpg?t=${Date.now()}`, {
          headers: { Authorization: `Bearer ${await token()}` },
        });
        if (!r.ok) throw new Error(`camera ${name}: picture: ${r.status} ${await r.text()}`);
        const blobs = JSON.parse(r.headers.get("X-Blobs") || "[]");
        const url = URL.createObjectURL(await r.blob());
        const loaded = new Promise((resolve) => {
          v.img.addEventListener("load", resolve, { once: true });
          v.img.addEventListener("error", resolve, { once: true });
        });
        v.img.src = url;
        await loaded; // its size known: the overlay matches it
        if (v.url) URL.revokeObjectURL(v.url);
        v.url = url;
        v.img.dataset.takenAt = r.headers.get("X-Taken-At") || "";
        draw(v, blobs);
      } catch (e) {
        report(e);
      }
    }
    if (!stopped) pictureTimer = setTimeout(pictures, PICTURE_MS);
  }

  main.replaceChildren();
  await blobs();
  await pictures();
  return {
    stop() {
      stopped = true;
      clearTimeout(blobTimer);
      clearTimeout(pictureTimer);
      for (const v of views.values()) if (v.url) URL.revokeObjectURL(v.url);
    },
  };
}
