// Blind preview: the look being edited (saved or not) rendered by the daemon for this editor
// only (POST /api/looks/preview), never on the wire. Refreshed after each edit (debounced)
// and, when asked, animated at a few frames a second.
import { api } from "./api.js";

const DEBOUNCE_MS = 250;
const FRAME_MS = 250; // 4 frames/s: enough to judge motion, light on the daemon

function pixels(canvas, base64) {
  const rgb = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(canvas.width, canvas.height);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    img.data[j] = rgb[i];
    img.data[j + 1] = rgb[i + 1];
    img.data[j + 2] = rgb[i + 2];
    img.data[j + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

// `lookOf()` gives the look document to render; `report` shows an unexpected error.
export function blindPreview(el, report, lookOf) {
  const status = el("div", { id: "blind-status", class: "dim" }, "");
  const problems = el("ul", { id: "blind-problems", class: "problems" });
  const strip = el("div", { class: "blind-canvases" });
  const animate = el("input", { type: "checkbox", id: "blind-animate" });
  const node = el(
    "div",
    { class: "blind", id: "blind-preview", "data-renders": 0 },
    el(
      "div",
      { class: "row" },
      el("strong", {}, "Blind preview"),
      el("span", { class: "dim" }, "(not on the wire)"),
      el("label", { class: "inline" }, animate, "animate")
    ),
    strip,
    status,
    problems
  );
  let timer = null,
    ticker = null,
    seq = 0,
    inFlight = false,
    stopped = false;
  const started = performance.now();

  async function render() {
    if (stopped) return;
    const mine = ++seq;
    const t = animate.checked ? (performance.now() - started) / 1000 : 0;
    inFlight = true;
    try {
      const out = await api("POST", "/api/looks/preview", { look: lookOf(), t });
      if (mine !== seq || stopped) return;
      const shown = new Set();
      for (const c of out.canvases) {
        let canvas = strip.querySelector(`canvas[data-blind="${CSS.escape(c.canvas)}"]`);
        if (!canvas) {
          canvas = el("canvas", { "data-blind": c.canvas, title: c.canvas });
          strip.append(el("figure", {}, canvas, el("figcaption", { class: "dim" }, c.canvas)));
        }
        canvas.width = c.width;
        canvas.height = c.height;
        // Scaled up, pixels kept sharp; a one-row strip still gets a visible height.
        canvas.style.height = `${Math.max(12, Math.round((160 * c.height) / c.width))}px`;
        pixels(canvas, c.rgb);
        shown.add(c.canvas);
      }
      for (const fig of [...strip.children]) {
        if (!shown.has(fig.querySelector("canvas").dataset.blind)) fig.remove();
      }
      problems.replaceChildren();
      strip.classList.remove("stale");
      status.textContent = `t = ${out.t.toFixed(2)} s`;
      node.dataset.renders = Number(node.dataset.renders) + 1;
    } catch (e) {
      if (mine !== seq || stopped) return;
      if (e.status === 400) {
        // The look as it stands cannot be drawn: say why, next to the preview.
        status.textContent = "Not previewed (the pictures are of the last look that could be drawn):";
        strip.classList.add("stale");
        problems.replaceChildren(...((e.body && e.body.problems) || [e.message]).map((p) => el("li", {}, p)));
      } else {
        report(e);
        animate.checked = false;
        stopTicker();
      }
    } finally {
      if (mine === seq) inFlight = false;
    }
  }
  function stopTicker() {
    clearInterval(ticker);
    ticker = null;
  }
  animate.addEventListener("change", () => {
    stopTicker();
    if (animate.checked)
      ticker = setInterval(() => {
        if (!inFlight) render();
      }, FRAME_MS);
    else render();
  });
  return {
    node,
    refresh() {
      clearTimeout(timer);
      timer = setTimeout(render, DEBOUNCE_MS);
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      stopTicker();
    },
  };
}
