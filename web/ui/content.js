// The content library: upload videos, images and fonts (chunked, with a progress bar), approve or
// reject, thumbnails.
import { api, token } from "./api.js";

const CHUNK = 1 << 20;

async function thumb(img, id) {
  try {
    const r = await fetch(`/api/content/${id}/thumbnail`, { headers: { Authorization: `Bearer ${await token()}` } });
    if (r.ok) img.src = URL.createObjectURL(await r.blob());
  } catch {
    /* no thumbnail yet */
  }
}

// What the file is: a video or image's codec and size, a font's family and style.
function describe(meta) {
  if (meta.kind === "font") return `font: ${meta.family} ${meta.style}`;
  return meta.codec ? `${meta.codec} ${meta.width}×${meta.height}` : "";
}

async function put(path, body) {
  const r = await fetch(path, {
    method: "PUT",
    body,
    headers: { Authorization: `Bearer ${await token()}`, "Content-Type": "application/octet-stream" },
  });
  const doc = await r.json();
  if (!r.ok && r.status !== 409) throw new Error(doc.error || `HTTP ${r.status}`);
  return doc;
}

export async function mount(main, ui) {
  const { el, toast, report, can } = ui;
  const list = el("section", { class: "panel" });
  const file = el("input", { type: "file", id: "upload-file", accept: "video/*,image/*,.ttf,.otf,.ttc,.woff,.woff2" });
  const bar = el("div", { class: "fill" });
  const status = el("span", { class: "dim", id: "upload-status" });
  const start = el(
    "button",
    {
      type: "button",
      id: "upload",
      disabled: !can("content.edit"),
      onclick: async () => {
        const f = file.files[0];
        if (!f) return report("file: choose one");
        try {
          const begun = await api("POST", "/api/content/uploads", { name: f.name, filename: f.name, size: f.size });
          let offset = begun.offset;
          while (offset < f.size) {
            const reply = await put(
              `/api/content/uploads/${begun.upload_id}?offset=${offset}`,
              f.slice(offset, offset + CHUNK)
            );
            offset = reply.offset; // a 409 tells where the daemon is: resume from there
            bar.style.width = `${Math.round((100 * offset) / f.size)}%`;
            status.textContent = `${offset} / ${f.size} bytes`;
          }
          const done = await api("POST", `/api/content/uploads/${begun.upload_id}/complete`, {});
          status.textContent =
            done.kind === "font" ? `font: ${done.family} ${done.style}` : `${done.codec} ${done.width}x${done.height}`;
          toast(`Uploaded: ${f.name} (asset ${done.asset_id}, awaiting approval)`);
          await draw();
        } catch (e) {
          report(e);
          status.textContent = "refused";
        }
      },
    },
    "Upload"
  );
  const uploader = el(
    "section",
    { class: "panel" },
    el("h2", {}, "Upload"),
    el("div", { class: "row" }, file, start, status),
    el("div", { class: "progress", id: "upload-progress" }, bar)
  );

  async function draw() {
    const page = await api("GET", "/api/content?limit=200");
    list.replaceChildren(
      el("h2", {}, "Library"),
      el(
        "table",
        {},
        el(
          "tbody",
          {},
          page.items.map((a) => {
            const img = el("img", { alt: "", width: 96 });
            thumb(img, a.id);
            const decide = (action) =>
              el(
                "button",
                {
                  type: "button",
                  class: action,
                  disabled: !can("content.approve"),
                  onclick: async () => {
                    try {
                      await api("POST", `/api/content/${a.id}/${action}`);
                      await draw();
                    } catch (e) {
                      report(e);
                    }
                  },
                },
                action === "approve" ? "Approve" : "Reject"
              );
            const meta = a.metadata || {};
            return el(
              "tr",
              { "data-asset": a.id },
              el("td", {}, img),
              el("td", {}, a.name),
              el(
                "td",
                {},
                `v${a.version}`,
                a.live_version && a.live_version !== a.version
                  ? el("span", { class: "dim" }, ` (v${a.live_version} plays)`)
                  : null
              ),
              el("td", { class: "status" }, a.status),
              el("td", { class: "dim" }, describe(meta)),
              el("td", {}, decide("approve"), decide("reject"))
            );
          })
        )
      )
    );
  }
  main.replaceChildren(uploader, list);
  await draw();
  return { stop() {} };
}
