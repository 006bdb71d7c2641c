// The schedule form's arithmetic, no DOM: recurrence presets to and from an RRULE, and a
// wall-clock date and time in a zone to and from the ISO 8601 instant (with its offset) the
// daemon stores as dtstart.

export const DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
const WEEKDAYS = "MO,TU,WE,TH,FR";
const WEEKENDS = "SA,SU";

export const PRESETS = [
  ["once", "once"],
  ["daily", "every day"],
  ["weekdays", "weekdays (Mon–Fri)"],
  ["weekends", "weekends (Sat, Sun)"],
  ["weekly", "weekly on chosen days"],
  ["monthly", "monthly (the first date's day)"],
  ["custom", "custom RRULE"],
];

// The RRULE a preset stands for (days: for "weekly", custom: for "custom").
export function buildRrule(preset, days = [], custom = "") {
  switch (preset) {
    case "once":
      return "";
    case "daily":
      return "FREQ=DAILY";
    case "weekdays":
      return `FREQ=WEEKLY;BYDAY=${WEEKDAYS}`;
    case "weekends":
      return `FREQ=WEEKLY;BYDAY=${WEEKENDS}`;
    case "weekly": {
      const chosen = DAYS.filter((d) => days.includes(d));
      return chosen.length ? `FREQ=WEEKLY;BYDAY=${chosen.join(",")}` : "FREQ=WEEKLY";
    }
    case "monthly":
      return "FREQ=MONTHLY";
    default:
      return custom.trim();
  }
}

// The preset an RRULE reads as; anything the presets cannot say is "custom", kept verbatim.
export function readRrule(rrule) {
  const text = (rrule || "").trim();
  if (!text) return { preset: "once", days: [], custom: "" };
  const parts = Object.fromEntries(
    text
      .toUpperCase()
      .split(";")
      .map((p) => p.split("="))
  );
  const keys = Object.keys(parts).sort().join(",");
  const custom = { preset: "custom", days: [], custom: text };
  if (keys === "FREQ" && parts.FREQ === "DAILY") return { preset: "daily", days: [], custom: "" };
  if (keys === "FREQ" && parts.FREQ === "MONTHLY") return { preset: "monthly", days: [], custom: "" };
  if (parts.FREQ !== "WEEKLY" || !["FREQ", "BYDAY,FREQ"].includes(keys)) return custom;
  const days = parts.BYDAY ? parts.BYDAY.split(",") : [];
  if (!days.every((d) => DAYS.includes(d))) return custom;
  const canonical = DAYS.filter((d) => days.includes(d)).join(",");
  if (canonical === WEEKDAYS) return { preset: "weekdays", days, custom: "" };
  if (canonical === WEEKENDS) return { preset: "weekends", days, custom: "" };
  return { preset: "weekly", days, custom: "" };
}

// Minutes the zone's clock is ahead of UTC at an instant (ms since the epoch).
function offsetMinutes(ms, tz) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: tz,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(ms));
  const n = Object.fromEntries(parts.filter((p) => p.type !== "literal").map((p) => [p.type, Number(p.value)]));
  return Math.round((Date.UTC(n.year, n.month - 1, n.day, n.hour, n.minute, n.second) - ms) / 60000);
}

// "2026-12-05", "17:30" on the clock of tz → "2026-12-05T17:30:00+01:00", by the daemon's
// rule (docs/schedule.md, Time): a wall time stands for the first instant the clock reads it
// or later — the first of a repeated (fall-back) time, the end of a skipped (spring) gap.
export function zonedIso(date, time, tz) {
  const [y, mo, d] = date.split("-").map(Number);
  const [h, mi] = (time || "00:00").split(":").map(Number);
  const asUtc = Date.UTC(y, mo - 1, d, h, mi);
  const near = [offsetMinutes(asUtc - 86400000, tz), offsetMinutes(asUtc + 86400000, tz)];
  const fits = near.filter((o) => offsetMinutes(asUtc - o * 60000, tz) === o);
  let instant;
  if (fits.length) instant = Math.min(...fits.map((o) => asUtc - o * 60000));
  else {
    // in a gap: the transition, found to the minute between the two readings
    let lo = asUtc - Math.max(...near) * 60000,
      hi = asUtc - Math.min(...near) * 60000;
    const after = offsetMinutes(hi, tz);
    while (hi - lo > 60000) {
      const mid = lo + Math.floor((hi - lo) / 120000) * 60000;
      if (offsetMinutes(mid, tz) === after) hi = mid;
      else lo = mid;
    }
    instant = hi;
  }
  const off = offsetMinutes(instant, tz);
  const wall = wallClock(new Date(instant).toISOString(), tz);
  const pad = (v) => String(v).padStart(2, "0");
  const abs = Math.abs(off);
  return `${wall.date}T${wall.time}:00${off < 0 ? "-" : "+"}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

// An ISO instant read on the clock of tz: { date: "YYYY-MM-DD", time: "HH:MM" }.
export function wallClock(iso, tz) {
  const text = new Intl.DateTimeFormat("sv-SE", {
    timeZone: tz,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
  }).format(new Date(iso));
  return { date: text.slice(0, 10), time: text.slice(11, 16) };
}
