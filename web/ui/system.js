// Patch per canvas, outputs with their state, discovered Art-Net nodes, the hot-standby pair.
import { api, has } from "./api.js";
import { pairPanel } from "./pair.js";

export async function mount(main, ui) {
  const { el, report } = ui;
  const canvases = (await api("GET", "/api/canvases")).canvases;
  const patch = el("section", { class: "panel" });
  const picker = el(
    "select",
    { id: "patch-canvas", onchange: () => showPatch().catch(report) },
    ...canvases.map((c) => el("option", { value: c.name }, `${c.name} (${c.width}×${c.height})`))
  );
  async function showPatch() {
    const doc = await api("GET", `/api/canvases/${encodeURIComponent(picker.value)}/patch`);
    patch.replaceChildren(
      el("h2", {}, "Patch"),
      picker,
      el(
        "table",
        {},
        el(
          "thead",
          {},
          el("tr", {}, ...["fixture", "type", "order", "pixels", "universe.channel ranges"].map((h) => el("th", {}, h)))
        ),
        el(
          "tbody",
          {},
          doc.fixtures.map((f) =>
            el(
              "tr",
              {},
              el("td", {}, f.name),
              el("td", {}, f.type || "default"),
              el("td", {}, f.colour_order),
              el("td", {}, f.pixels),
              el("td", {}, f.ranges.map(([u, a, b]) => `${u}.${a}-${b}`).join(", "))
            )
          )
        )
      )
    );
  }
  const outputs = el("section", { class: "panel" });
  const out = await api("GET", "/api/outputs");
  outputs.append(
    el("h2", {}, "Outputs"),
    el(
      "table",
      {},
      el(
        "tbody",
        {},
        out.outputs.map((o) =>
          el(
            "tr",
            {},
            el("td", {}, o.name),
            el("td", {}, o.protocol),
            el("td", {}, o.state || o.status || ""),
            el("td", { class: "dim" }, JSON.stringify(o.errors ?? o.last_error ?? ""))
          )
        )
      )
    )
  );
  const nodes = el("section", { class: "panel" }, el("h2", {}, "Art-Net nodes"));
  if (!has("artnet_discovery"))
    nodes.append(el("p", { class: "dim" }, "Discovery is off ([artnet_discovery] enabled = true)."));
  else
    try {
      const n = await api("GET", "/api/artnet/nodes");
      nodes.append(
        el(
          "table",
          {},
          el(
            "tbody",
            {},
            n.nodes.map((x) =>
              el(
                "tr",
                {},
                el("td", {}, x.ip || x.address),
                el("td", {}, x.short_name || ""),
                el("td", {}, JSON.stringify(x.port_addresses || x.ports || []))
              )
            )
          )
        )
      );
    } catch (e) {
      nodes.append(el("p", { class: "dim" }, e.message));
    }
  const pair = await pairPanel(ui);
  main.replaceChildren(patch, outputs, nodes, pair.section);
  await showPatch();
  return { stop: pair.stop };
}
