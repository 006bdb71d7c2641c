// The hot-standby pair (docs/ha.md): both nodes, who leads, the heartbeat, the last failover
// and why; a planned handover for those who may. Refreshed every second while shown.
import { api, can } from "./api.js";

const REFRESH_MS = 1000;

export async function pairPanel(ui) {
  const { el, toast, report, confirmAction } = ui;
  const section = el("section", { class: "panel", id: "pair" });
  let timer = null;

  function row(label, value, id) {
    return el("tr", {}, el("th", {}, label), el("td", { id }, value ?? "—"));
  }

  async function handover() {
    if (!(await confirmAction("Hand the output over to the standby? It takes the lease; this node stands by."))) return;
    try {
      const done = await api("POST", "/api/ha/handover", {});
      toast(`Handed over: this node is now ${done.role}`);
    } catch (e) {
      report(e);
    }
    await show().catch(report);
  }

  async function show() {
    const s = await api("GET", "/api/ha");
    if (!s.enabled) {
      section.replaceChildren(
        el("h2", {}, "Hot-standby pair"),
        el("p", { class: "dim", id: "pair-single" }, "Single node: no pair configured ([ha] node_name).")
      );
      return;
    }
    const age = s.peer_heartbeat_age_ms == null ? null : `${Math.round(s.peer_heartbeat_age_ms)} ms ago`;
    const when = s.last_transition_at ? ` at ${s.last_transition_at.slice(0, 19).replace("T", " ")} UTC` : "";
    const button = el(
      "button",
      { id: "pair-handover", disabled: s.role !== "leader", onclick: () => handover().catch(report) },
      "Hand over to the standby"
    );
    section.replaceChildren(
      el("h2", {}, "Hot-standby pair"),
      el(
        "table",
        {},
        el(
          "tbody",
          {},
          row("This node", `${s.node}: ${s.role}${s.leading ? " (transmitting)" : ""}`, "pair-node"),
          row("Epoch", String(s.epoch), "pair-epoch"),
          row("Peer", s.peer_node ? `${s.peer_node}: ${s.peer_role}` : `nothing heard from ${s.peer}`, "pair-peer"),
          row("Last heartbeat", age ? `${age}, ${s.peer_heartbeats_missed} missed` : null, "pair-heartbeat"),
          row(
            "Last failover",
            s.last_transition ? `${s.last_transition}: ${s.last_transition_reason}${when}` : null,
            "pair-last"
          ),
          row("Lease", s.lease_error ? `error: ${s.lease_error}` : "ok", "pair-lease")
        )
      ),
      can("ha.control") ? button : el("span")
    );
  }

  await show().catch(report);
  timer = setInterval(() => show().catch(report), REFRESH_MS);
  return {
    section,
    stop() {
      clearInterval(timer);
    },
  };
}
