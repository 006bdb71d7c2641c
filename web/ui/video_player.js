// One live camera in a <video>: a stream token from the operation table, the fMP4 over the
// video WebSocket into Media Source Extensions, kept at the live edge, reconnected with
// backoff. No transcoding anywhere: the browser decodes the device's own H.264.
import { api } from "./api.js";

const EDGE_S = 0.5; // further behind the newest buffered frame than this: jump to it
const KEEP_S = 10; // buffer kept behind the playhead (older is removed)
const SILENT_MS = 3000; // no fragment this long: "device not sending"
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const REFUSED = new Set([4401, 4403]);

export class Player {
  constructor(video, device, channel, stream, onChange) {
    this.video = video;
    this.key = { device, channel, stream };
    this.onChange = onChange; // (state, detail) => void
    this.state = "stopped";
    this.detail = "";
    this.latencyMs = null;
    this.fragments = 0;
    this.attempt = 0;
    this.wanted = false;
    this.ws = null;
    this.timer = null;
    this.clock = null; // {t: decode time s, wall: server arrival Unix ms} of a keyframe
    this.lastData = 0;
  }

  set(state, detail = "") {
    this.state = state;
    this.detail = detail;
    this.onChange(state, detail);
  }

  async play() {
    this.wanted = true;
    clearTimeout(this.timer);
    if (this.state !== "reconnecting") this.set("starting");
    let started;
    try {
      started = await api("POST", "/api/video/streams", this.key);
    } catch (e) {
      if (e.status === 403 || e.status === 400) {
        this.wanted = false;
        this.set("refused", e.message);
        throw e;
      }
      this.retry(e.message);
      throw e;
    }
    if (!this.wanted) return;
    this.open(started);
  }

  open(started) {
    this.teardown();
    this.attempt = 0;
    const ms = new MediaSource();
    this.mediaSource = ms;
    this.pending = [];
    this.buffer = null;
    this.video.src = URL.createObjectURL(ms);
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}${started.url}?token=${encodeURIComponent(started.token)}`);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.lastData = Date.now();
    ws.onmessage = (m) => {
      if (ws !== this.ws) return;
      if (typeof m.data === "string") this.message(JSON.parse(m.data));
      else this.append(m.data);
    };
    ws.onclose = (ev) => {
      if (ws !== this.ws) return;
      this.ws = null;
      if (!this.wanted) return;
      if (REFUSED.has(ev.code)) {
        this.wanted = false;
        this.set("refused", ev.reason || `closed ${ev.code}`);
        return;
      }
      this.retry(ev.reason || "connection lost");
    };
    clearInterval(this.watch);
    this.watch = setInterval(() => this.tick(), 250);
  }

  message(doc) {
    if (doc.type === "stream") {
      this.mime = doc.mime;
      if (this.mediaSource.readyState === "open") this.makeBuffer();
      else this.mediaSource.addEventListener("sourceopen", () => this.makeBuffer(), { once: true });
    } else if (doc.type === "clock") {
      this.clock = { t: doc.t, wall: doc.wall };
    } else if (doc.type === "state") {
      this.set(doc.state === "live" ? "playing" : doc.state, doc.reason || "");
    }
  }

  makeBuffer() {
    if (this.buffer || !this.mime) return;
    if (!MediaSource.isTypeSupported(this.mime)) {
      this.wanted = false;
      this.set("refused", `this browser cannot play ${this.mime}`);
      this.teardown();
      return;
    }
    this.buffer = this.mediaSource.addSourceBuffer(this.mime);
    this.buffer.addEventListener("updateend", () => this.feed());
    this.feed();
  }

  append(data) {
    this.lastData = Date.now();
    this.fragments += 1;
    this.pending.push(data);
    if (this.state !== "playing") this.set("playing");
    this.feed();
  }

  feed() {
    const b = this.buffer;
    if (!b || b.updating) return;
    this.keepAtEdge();
    if (!this.pending.length) return;
    try {
      b.appendBuffer(this.pending.shift());
    } catch (e) {
      // QuotaExceeded or a bad segment: start clean rather than stall.
      this.retry(`player: ${e.message}`);
    }
  }

  keepAtEdge() {
    const v = this.video;
    const r = v.buffered;
    if (!r.length) return;
    const end = r.end(r.length - 1);
    const start = r.start(r.length - 1);
    if (v.currentTime < start || end - v.currentTime > EDGE_S) v.currentTime = Math.max(start, end - 0.05);
    if (v.paused) v.play().catch(() => {});
    if (v.currentTime - r.start(0) > KEEP_S * 2 && !this.buffer.updating) {
      this.buffer.remove(0, v.currentTime - KEEP_S);
    }
  }

  tick() {
    if (this.clock && this.state === "playing") {
      const shown = this.clock.wall + (this.video.currentTime - this.clock.t) * 1000;
      this.latencyMs = Math.max(0, Date.now() - shown);
    }
    if (this.state === "playing" && Date.now() - this.lastData > SILENT_MS) this.set("device not sending");
    this.onChange(this.state, this.detail);
  }

  retry(why) {
    this.teardown();
    if (!this.wanted) return;
    const wait = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
    this.attempt += 1;
    this.set("reconnecting", `${why} — again in ${(wait / 1000).toFixed(1)} s`);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.play().catch(() => {}), wait);
  }

  teardown() {
    clearInterval(this.watch);
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, "stopped");
    this.buffer = null;
    this.latencyMs = null;
    this.clock = null;
    if (this.video.src) {
      URL.revokeObjectURL(this.video.src);
      this.video.removeAttribute("src");
      this.video.load();
    }
  }

  async stop() {
    this.wanted = false;
    clearTimeout(this.timer);
    this.teardown();
    this.set("stopped");
    await api("POST", "/api/video/streams/leave", this.key);
  }

  // The picture now as a JPEG blob (null before the first frame).
  snapshot() {
    const v = this.video;
    if (!v.videoWidth) return Promise.resolve(null);
    const c = document.createElement("canvas");
    c.width = v.videoWidth;
    c.height = v.videoHeight;
    c.getContext("2d").drawImage(v, 0, 0);
    return new Promise((resolve) => c.toBlob(resolve, "image/jpeg", 0.9));
  }
}
