// Vehicle video: per vehicle a grid of its channels, each a live player (video_player.js) with
// play/stop, its state ("device not sending", "reconnecting"…), a latency readout and a
// snapshot to JPEG.
import { api, has } from "./api.js";
import { Player } from "./video_player.js";

const CHANNELS = [1, 2, 4, 8, 16];

export async function mount(main, ui) {
  const { el, report, can, toast } = ui;
  if (!has("mdvr") || !can("video:watch")) {
    main.replaceChildren(
      el(
        "section",
        { class: "panel" },
        el("h2", {}, "Vehicle video"),
        el(
          "p",
          { class: "dim" },
          has("mdvr") ? "Your role may not watch live video." : "The MDVR gateway is not enabled."
        )
      )
    );
    return { stop() {} };
  }
  const players = new Set();
  const count = el(
    "select",
    { id: "video-channels", onchange: () => draw().catch(report) },
    CHANNELS.map((n) => el("option", { value: n, selected: n === 4 }, `${n} channels`))
  );
  const sub = el("input", { type: "checkbox", id: "video-sub" });
  const grid = el("div", { class: "video-vehicles" });
  main.replaceChildren(
    el(
      "section",
      { class: "panel" },
      el("h2", {}, "Vehicle video"),
      el("p", { class: "row" }, count, el("label", {}, sub, " sub-stream (lower bandwidth)")),
      grid
    )
  );

  function tile(device, channel) {
    const video = el("video", { muted: true, playsinline: true, class: "video-picture" });
    video.muted = true; // the attribute alone does not let autoplay start
    const state = el("span", { class: "video-state" }, "stopped");
    const latency = el("span", { class: "video-latency dim" });
    const play = el("button", { type: "button", class: "video-play" }, "Play");
    const stop = el("button", { type: "button", class: "video-stop", disabled: true }, "Stop");
    const shot = el("button", { type: "button", class: "video-snapshot", disabled: true }, "Snapshot");
    const node = el(
      "figure",
      { class: "video-tile", "data-device": device, "data-channel": channel, "data-state": "stopped" },
      video,
      el(
        "figcaption",
        {},
        el("strong", {}, `ch ${channel}`),
        " ",
        state,
        " ",
        latency,
        el("span", { class: "row" }, play, stop, shot)
      )
    );
    const player = new Player(video, device, channel, sub.checked ? 1 : 0, (s, detail) => {
      node.dataset.state = s;
      state.textContent = detail ? `${s}: ${detail}` : s;
      latency.textContent = player.latencyMs == null ? "" : `${Math.round(player.latencyMs)} ms behind`;
      const on = s !== "stopped" && s !== "refused";
      play.disabled = on;
      stop.disabled = !on;
      shot.disabled = s !== "playing";
    });
    players.add(player);
    play.addEventListener("click", () => player.play().catch(report));
    stop.addEventListener("click", () => player.stop().catch(report));
    shot.addEventListener("click", async () => {
      const blob = await player.snapshot();
      if (!blob) return toast("No picture yet", true);
      const a = el("a", {
        href: URL.createObjectURL(blob),
        download: `${device}-ch${channel}-${new Date().toISOString().replace(/[:.]/g, "-")}.jpg`,
      });
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    });
    return node;
  }

  async function draw() {
    for (const p of players) p.stop().catch(() => {});
    players.clear();
    const devices = (await api("GET", "/api/mdvr/devices")).items;
    const n = Number(count.value);
    grid.replaceChildren(
      ...devices.map((d) =>
        el(
          "section",
          { class: "video-vehicle", "data-device": d.device_id },
          el("h3", {}, `${d.plate || d.device_id} `, el("span", { class: "dim" }, d.online ? "online" : "offline")),
          el(
            "div",
            { class: "video-grid" },
            Array.from({ length: n }, (_, ch) => tile(d.device_id, ch))
          )
        )
      )
    );
    if (!devices.length) grid.append(el("p", { class: "dim" }, "No vehicle has connected yet."));
  }
  sub.addEventListener("change", () => draw().catch(report));
  await draw();
  return {
    stop() {
      for (const p of players) p.stop().catch(() => {});
    },
  };
}
