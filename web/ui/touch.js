// The touch simulator (docs/touch.md): each configured touch surface drawn where it lies on
// its canvas; pressing and dragging inside it sends touches through POST
// /api/touch/{surface}/simulate, as if the surface's tracker had sent them (rules and
// touch_ripple layers react the same way). The touches down now, from a tracker or from
// here, come live from the `touch:frame` event.
import { api, Live } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

// Canvas pixels → the surface's own 0..1 coordinates: config/touch.py's mapping undone
// (out of the rectangle, the turn back, then the flips).
export function toSurface(s, cx, cy) {
  const [x, y, w, h] = s.rect;
  const a = (cx - x) / w;
  const b = (cy - y) / h;
  let u = a;
  let v = b;
  if (s.rotation === 90) [u, v] = [b, 1 - a];
  else if (s.rotation === 180) [u, v] = [1 - a, 1 - b];
  else if (s.rotation === 270) [u, v] = [1 - b, a];
  if (s.flip_x) u = 1 - u;
  if (s.flip_y) v = 1 - v;
  const clamp = (t) => Math.min(1, Math.max(0, t));
  return [clamp(u), clamp(v)];
}

export async function mount(main, ui) {
  const { el, report, can } = ui;
  const allowed = can("touch.simulate");
  const state = await api("GET", "/api/touch");
  const live = new Live();
  const panels = new Map(); // surface name → { draw(touches) }

  main.append(
    el("h2", {}, "Touch"),
    el(
      "p",
      { class: "dim" },
      allowed
        ? "Press and drag inside a surface to touch it, as its panel would."
        : "The touches down now (your role may not simulate touches)."
    )
  );
  if (!state.surfaces.length) {
    main.append(
      el(
        "p",
        { id: "touch-empty", class: "panel" },
        "No touch surfaces configured ([[touch.surfaces]], docs/touch.md)."
      )
    );
    return { stop() {} };
  }
  for (const s of state.surfaces) {
    const panel = surfacePanel(s);
    panels.set(s.name, panel);
    main.append(panel.node);
    panel.draw(s.touches);
  }
  live.on("touch:frame", (frame) => {
    const panel = panels.get(frame.surface);
    if (panel) panel.draw(frame.touches);
  });
  live.connect();

  function surfacePanel(s) {
    const [cw, ch] = s.canvas_size;
    const [x, y, w, h] = s.rect;
    const turned = s.rotation ? `, turned ${s.rotation}°` : "";
    const flips = [s.flip_x && "flipped left-right", s.flip_y && "flipped top-bottom"].filter(Boolean);
    const outline = svg("svg", {
      viewBox: `0 0 ${cw} ${ch}`,
      class: "touch-canvas",
      "data-surface": s.name,
      preserveAspectRatio: "xMidYMid meet",
    });
    outline.append(svg("rect", { x: 0, y: 0, width: cw, height: ch, class: "touch-canvas-outline" }));
    const pad = svg("rect", { x, y, width: w, height: h, class: "touch-pad", "data-pad": s.name });
    outline.append(pad);
    const dots = svg("g");
    outline.append(dots);
    const rows = el("tbody");
    const node = el(
      "section",
      { class: "panel", "data-touch-surface": s.name },
      el("h3", {}, `${s.name} → ${s.canvas}`),
      el(
        "p",
        { class: "dim" },
        `${w}×${h} px at ${x},${y} of ${cw}×${ch}${turned}${flips.length ? ", " + flips.join(", ") : ""}`
      ),
      outline,
      el(
        "table",
        { class: "touch-list" },
        el("thead", {}, el("tr", {}, el("th", {}, "touch"), el("th", {}, "surface u, v"), el("th", {}, "canvas x, y"))),
        rows
      )
    );

    // One simulated finger per pointer; moves are coalesced (one request in flight).
    const fingers = new Map(); // pointerId → { id, pending, busy }
    let nextFinger = 1;
    function point(ev) {
      const m = outline.getScreenCTM();
      if (!m) return [0, 0];
      const p = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(m.inverse());
      return toSurface(s, p.x, p.y);
    }
    async function send(finger, action, u, v) {
      try {
        await api("POST", `/api/touch/${encodeURIComponent(s.name)}/simulate`, {
          action,
          id: finger.id,
          x: u,
          y: v,
        });
      } catch (e) {
        report(e);
      }
    }
    async function pump(finger) {
      while (finger.pending && !finger.busy) {
        const [action, u, v] = finger.pending;
        finger.pending = null;
        finger.busy = true;
        await send(finger, action, u, v);
        finger.busy = false;
      }
    }
    if (allowed) {
      pad.addEventListener("pointerdown", (ev) => {
        ev.preventDefault();
        pad.setPointerCapture(ev.pointerId);
        const finger = { id: nextFinger++, pending: null, busy: false };
        fingers.set(ev.pointerId, finger);
        finger.pending = ["down", ...point(ev)];
        pump(finger);
      });
      pad.addEventListener("pointermove", (ev) => {
        const finger = fingers.get(ev.pointerId);
        if (!finger) return;
        // A move queued behind the down (or a later move) replaces the one not yet sent.
        if (!finger.pending || finger.pending[0] === "move") finger.pending = ["move", ...point(ev)];
        pump(finger);
      });
      const lift = async (ev) => {
        const finger = fingers.get(ev.pointerId);
        if (!finger) return;
        fingers.delete(ev.pointerId);
        const [u, v] = point(ev);
        while (finger.busy || finger.pending) await new Promise((r) => setTimeout(r, 10));
        await send(finger, "up", u, v);
      };
      pad.addEventListener("pointerup", lift);
      pad.addEventListener("pointercancel", lift);
    }

    function draw(touches) {
      dots.replaceChildren(
        ...touches.map((t) =>
          svg("circle", { cx: t.x, cy: t.y, r: Math.max(cw, ch) / 60, class: "touch-dot", "data-touch": t.id })
        )
      );
      rows.replaceChildren(
        ...touches.map((t) =>
          el(
            "tr",
            { "data-touch": t.id },
            el("td", {}, t.id),
            el("td", { "data-field": "uv" }, `${t.u.toFixed(3)}, ${t.v.toFixed(3)}`),
            el("td", { "data-field": "xy" }, `${t.x.toFixed(1)}, ${t.y.toFixed(1)}`)
          )
        )
      );
    }
    return { node, draw };
  }

  return {
    stop() {
      live.close();
    },
  };
}
