export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null) return "";
  const whole = Math.floor(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return `${h ? `${h}:` : ""}${mm}:${String(s).padStart(2, "0")}`;
}

export function formatTime(seconds: number): string {
  return `${formatDuration(seconds)}.${String(Math.floor((seconds % 1) * 10))}`;
}

export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

export function percent(fraction: number): string {
  return `${Math.round(fraction * 100)} %`;
}

/** A relation reason (NEAR_DUPLICATE) as words (near duplicate). */
export function reasonName(reason: string): string {
  return reason.toLowerCase().replace(/_/g, " ");
}

/** One reason of a relation as words, its score and its first terms: near duplicate 92 % (a, b). */
export function reasonText(reason: { reason: string; score: number; terms: string[] }): string {
  const terms = reason.terms.length ? ` (${reason.terms.slice(0, 3).join(", ")})` : "";
  return `${reasonName(reason.reason)} ${percent(reason.score)}${terms}`;
}
