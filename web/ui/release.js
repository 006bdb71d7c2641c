// The Release button of a park or a scripted override, as show mode's "on stage" panel and the
// building view's canvas panel both show it (DELETE on the holder's route).
export const parkRoute = (canvas) => `/api/parks/${encodeURIComponent(canvas)}`;
export const overrideRoute = (id) => `/api/overrides/${encodeURIComponent(id)}`;

export function releaseCell(el, call, route, enabled, attrs = {}) {
  const button = el(
    "button",
    { type: "button", disabled: !enabled, onclick: () => call("DELETE", route, {}), ...attrs },
    "Release"
  );
  return el("td", {}, button);
}
