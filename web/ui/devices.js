// MDVR vehicles: online state and last position, alarms (acknowledge), live view, files.
import { api, has, Live, token } from "./api.js";

// Thumbnails need the access token, so they are fetched and shown as blob: URLs.
async function showThumb(img, url) {
  try {
    const r = await fetch(url, { headers: { Authorization: `Bearer ${await token()}` } });
    if (r.ok) img.src = URL.createObjectURL(await r.blob());
  } catch {
    /* no thumbnail: the row says enough */
  }
}

export async function mount(main, ui) {
  const { el, report, can } = ui;
  const control = can("mdvr.control");
  const footage = can("mdvr.footage"); // recordings and thumbnails: operators, like live view
  let devices;
  if (!has("mdvr")) {
    main.replaceChildren(
      el(
        "section",
        { class: "panel" },
        el("h2", {}, "Vehicles"),
        el("p", { class: "dim" }, "The MDVR gateway is not enabled ([mdvr] enabled = true).")
      )
    );
    return { stop() {} };
  }
  const devPanel = el("section", { class: "panel" });
  const alarmPanel = el("section", { class: "panel" });
  const filePanel = el("section", { class: "panel" });
  async function draw() {
    devices = (await api("GET", "/api/mdvr/devices")).items;
    const alarms = (await api("GET", "/api/mdvr/alarms?open=1")).items;
    const files = (await api("GET", "/api/mdvr/files")).items;
    devPanel.replaceChildren(
      el("h2", {}, "Vehicles"),
      el(
        "table",
        {},
        el(
          "tbody",
          {},
          devices.map((d) => {
            const pos = d.last_position;
            const channel = el("input", { type: "number", min: 0, max: 31, value: 0, size: 3 });
            return el(
              "tr",
              { "data-device": d.device_id },
              el("td", {}, d.device_id),
              el("td", {}, d.online ? "online" : "offline"),
              el(
                "td",
                {},
                pos ? `${pos.latitude.toFixed(5)}, ${pos.longitude.toFixed(5)} · ${pos.speed_kmh ?? "?"} km/h` : "—"
              ),
              el(
                "td",
                {},
                channel,
                el(
                  "button",
                  {
                    type: "button",
                    disabled: !control || !d.online,
                    onclick: async () => {
                      try {
                        await api("POST", "/api/mdvr/live", { device: d.device_id, channel: Number(channel.value) });
                      } catch (e) {
                        report(e);
                      }
                    },
                  },
                  "Live"
                ),
                el(
                  "button",
                  {
                    type: "button",
                    disabled: !control,
                    onclick: async () => {
                      try {
                        await api("POST", "/api/mdvr/live/stop", {
                          device: d.device_id,
                          channel: Number(channel.value),
                        });
                      } catch (e) {
                        report(e);
                      }
                    },
                  },
                  "Stop"
                )
              )
            );
          })
        )
      )
    );
    alarmPanel.replaceChildren(
      el("h2", {}, "Open alarms"),
      el(
        "table",
        {},
        el(
          "tbody",
          {},
          alarms.map((a) =>
            el(
              "tr",
              {},
              el("td", {}, a.device_id),
              el("td", {}, a.keyword),
              el("td", {}, a.name),
              el("td", {}, a.alarm_time || a.received_at),
              el(
                "td",
                {},
                el(
                  "button",
                  {
                    type: "button",
                    disabled: !control,
                    onclick: async () => {
                      try {
                        await api("POST", `/api/mdvr/alarms/${a.id}/acknowledge`);
                        draw();
                      } catch (e) {
                        report(e);
                      }
                    },
                  },
                  "Acknowledge"
                )
              )
            )
          )
        )
      )
    );
    filePanel.replaceChildren(
      el("h2", {}, "Downloaded files"),
      el(
        "table",
        {},
        el(
          "tbody",
          {},
          files.map((f) => {
            const thumb = el("img", { alt: "", width: 96, class: "thumb" });
            if (footage && f.status === "done" && f.thumbnail) showThumb(thumb, f.thumbnail);
            return el(
              "tr",
              {},
              el("td", {}, thumb),
              el("td", {}, f.device_id),
              el("td", {}, f.device_path),
              el("td", {}, f.status),
              el("td", {}, f.error || "")
            );
          })
        )
      )
    );
  }
  const live = new Live();
  // Positions arrive every second per vehicle: redraw at most every 3 s (and stay well
  // inside the per-user request budget).
  let timer = null;
  const redraw = () => {
    timer ??= setTimeout(() => {
      timer = null;
      draw().catch(report);
    }, 3000);
  };
  live.on("device:*", redraw);
  live.connect();
  main.replaceChildren(devPanel, alarmPanel, filePanel);
  await draw();
  return {
    stop() {
      live.close();
      clearTimeout(timer);
    },
  };
}
