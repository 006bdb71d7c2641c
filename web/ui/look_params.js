// One form control per source parameter, made from its schema (GET /api/sources).
// A control writes into `params` only when the user changes it: an untouched parameter stays
// absent, so the source's own default applies (and a stored value keeps its written form).

// Every colour form the daemon accepts ("#rgb", "#rrggbb", "#rrrrggggbbbb", [r, g, b] 0..1)
// shown as the picker's "#rrggbb".
export function toHex(value) {
  const byte = (x) =>
    Math.round(Math.max(0, Math.min(1, Number(x) || 0)) * 255)
      .toString(16)
      .padStart(2, "0");
  if (Array.isArray(value) && value.length === 3) return `#${value.map(byte).join("")}`;
  if (typeof value === "string") {
    const s = value.trim().toLowerCase();
    if (/^#[0-9a-f]{3}$/.test(s)) return `#${[...s.slice(1)].map((c) => c + c).join("")}`;
    if (/^#[0-9a-f]{6}$/.test(s)) return s;
    if (/^#[0-9a-f]{12}$/.test(s)) return `#${s.slice(1, 3)}${s.slice(5, 7)}${s.slice(9, 11)}`;
  }
  return "#000000";
}

// A step that suits the range: fine for 0..1 fractions, whole steps for wide ranges.
function stepFor(spec) {
  if (spec.type === "integer") return 1;
  if (spec.minimum == null || spec.maximum == null) return "any";
  const span = spec.maximum - spec.minimum;
  return span <= 2 ? 0.01 : span <= 20 ? 0.1 : 1;
}

const isFont = (asset) => (asset.content_type || "").startsWith("font/");
let fontLists = 0;

// A text layer's font: still free text (a path on the appliance), offering the built-in pixel
// font and the approved font files of the content library as "asset:ID".
function withFontChoices(el, input, assets) {
  const id = `font-choices-${++fontLists}`;
  input.setAttribute("list", id);
  const fonts = assets.filter(isFont);
  const label = (a) => [a.name, a.metadata?.family, a.metadata?.style].filter(Boolean).join(" · ");
  return el(
    "span",
    { class: "font-choice" },
    input,
    el(
      "datalist",
      { id },
      el("option", { value: "pixel" }, "built-in pixel font"),
      ...fonts.map((a) => el("option", { value: `asset:${a.id}` }, label(a)))
    )
  );
}

// `ctx`: { el, assets: [{id, name}] | null, fixtures: [name] }; `onChange()` after each edit.
export function paramControl(name, spec, params, ctx, onChange) {
  const { el } = ctx;
  const given = params[name];
  const current = given ?? spec.default;
  const set = (v) => {
    if (v === undefined) delete params[name];
    else params[name] = v;
    onChange();
  };
  const attrs = { "data-param": name, title: spec.doc || "" };
  let control;
  switch (spec.type) {
    case "colour":
      control = el("input", { ...attrs, type: "color", value: toHex(current), oninput: (ev) => set(ev.target.value) });
      break;
    case "palette": {
      const colours = (Array.isArray(current) ? current : []).map(toHex);
      const min = spec.min_items ?? 2,
        max = spec.max_items ?? 64;
      const wrap = el("span", { ...attrs, class: "palette" });
      const draw = () => {
        wrap.replaceChildren(
          ...colours.map((c, i) =>
            el("input", {
              type: "color",
              value: c,
              "data-index": i,
              oninput: (ev) => {
                colours[i] = ev.target.value;
                set([...colours]);
              },
            })
          ),
          el(
            "button",
            {
              type: "button",
              title: "one colour more",
              disabled: colours.length >= max,
              onclick: () => {
                colours.push(colours[colours.length - 1] || "#ffffff");
                set([...colours]);
                draw();
              },
            },
            "+"
          ),
          el(
            "button",
            {
              type: "button",
              title: "one colour less",
              disabled: colours.length <= min,
              onclick: () => {
                colours.pop();
                set([...colours]);
                draw();
              },
            },
            "−"
          )
        );
      };
      if (!colours.length && spec.default == null) {
        // An optional palette (e.g. noise's): absent until asked for.
        wrap.append(
          el(
            "button",
            {
              type: "button",
              onclick: () => {
                colours.push("#000000", "#ffffff");
                set([...colours]);
                draw();
              },
            },
            "use a palette"
          )
        );
      } else draw();
      control = wrap;
      break;
    }
    case "number":
    case "integer":
      if (name === "asset" && ctx.assets) {
        // Content library assets: only approved ones may play (fonts are for text layers).
        control = el(
          "select",
          { ...attrs, onchange: (ev) => set(ev.target.value === "" ? undefined : Number(ev.target.value)) },
          el("option", { value: "" }, "(none)"),
          ...ctx.assets
            .filter((a) => !isFont(a))
            .map((a) => el("option", { value: a.id, selected: a.id === current }, `${a.name} (#${a.id})`))
        );
        if (current != null && !ctx.assets.some((a) => a.id === current)) {
          control.append(el("option", { value: current, selected: true }, `#${current} (not approved)`));
        }
        break;
      }
      control = el("input", {
        ...attrs,
        type: "number",
        step: stepFor(spec),
        min: spec.minimum ?? false,
        max: spec.maximum ?? false,
        value: current ?? "",
        placeholder: spec.default == null ? "—" : String(spec.default),
        oninput: (ev) => set(ev.target.value === "" ? undefined : Number(ev.target.value)),
      });
      break;
    case "boolean":
      control = el("input", {
        ...attrs,
        type: "checkbox",
        checked: !!current,
        onchange: (ev) => set(ev.target.checked),
      });
      break;
    case "choice":
      control = el(
        "select",
        { ...attrs, onchange: (ev) => set(ev.target.value === "" ? undefined : ev.target.value) },
        ...(spec.default == null && !spec.required ? [el("option", { value: "" }, "—")] : []),
        ...spec.choices.map((c) => el("option", { value: c, selected: c === current }, c))
      );
      break;
    case "point": {
      const xy = Array.isArray(current) ? [...current] : [0.5, 0.5];
      const axis = (i) =>
        el("input", {
          type: "number",
          step: stepFor(spec),
          min: spec.minimum ?? false,
          max: spec.maximum ?? false,
          value: Array.isArray(current) ? current[i] : "",
          "data-axis": "xy"[i],
          oninput: (ev) => {
            xy[i] = Number(ev.target.value);
            set([...xy]);
          },
        });
      control = el("span", { ...attrs, class: "point" }, axis(0), axis(1));
      break;
    }
    case "fixture":
      control = el(
        "select",
        { ...attrs, onchange: (ev) => set(ev.target.value) },
        el("option", { value: "" }, "(every fixture)"),
        ...ctx.fixtures.map((f) => el("option", { value: f, selected: f === current }, f))
      );
      break;
    default: // string, path
      control = el("input", {
        ...attrs,
        value: current ?? "",
        placeholder: spec.required ? "required" : "",
        oninput: (ev) => set(ev.target.value === "" ? undefined : ev.target.value),
      });
      if (name === "font" && ctx.assets) control = withFontChoices(el, control, ctx.assets);
  }
  const unit = spec.unit ? ` (${spec.unit})` : "";
  return el("label", { title: spec.doc || "" }, `${name}${unit}${spec.required ? " *" : ""}`, control);
}
