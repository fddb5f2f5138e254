import os from "node:os";
/** Markdown formatting for the benchmark's report. */

export function table(head: string[], rows: string[][], align?: Array<"l" | "r">): string {
  const a = align ?? head.map((_, i) => (i === 0 ? "l" : "r"));
  const sep = a.map((x) => (x === "r" ? "---:" : ":---"));
  const line = (cells: string[]): string => `| ${cells.join(" | ")} |`;
  return [line(head), line(sep), ...rows.map(line)].join("\n");
}

/** 1234567.8 → "1,234,568". */
export function int(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a";
}

/** Microseconds with sensible precision. */
export function us(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  if (n < 10) return n.toFixed(2);
  if (n < 100) return n.toFixed(1);
  return Math.round(n).toLocaleString("en-US");
}

export function ms(n: number): string {
  return n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${Math.round(n)} ms`;
}

export function ratio(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  return n >= 100 ? `${Math.round(n)}×` : `${n.toFixed(1)}×`;
}

export const verdict = (ok: boolean): string => (ok ? "PASS" : "FAIL");

/** The closing "Targets" section every benchmark prints: one row per target, then problems. */
export function targetsSection(
  targets: Array<{ name: string; measured: string; ok: boolean | undefined }>,
  problems: readonly string[],
  totalMs: number,
): string[] {
  const out = ["", "### Targets", ""];
  out.push(table(["Target", "Measured", "Result"], targets.map((t) => [t.name, t.measured, t.ok === undefined ? "SKIP" : verdict(t.ok)]), ["l", "r", "l"]));
  if (problems.length) {
    out.push("");
    for (const p of problems) out.push(`- ${p}`);
  }
  out.push("", `Total benchmark time ${ms(totalMs)}.`);
  return out;
}

/** The first fields of every benchmark's JSON line: which benchmark, when, on what machine. */
export function machineJson(bench: string): { bench: string; date: string; node: string; cpu: string | null; cores: number; loadavg: number } {
  const cpus = os.cpus();
  return { bench, date: new Date().toISOString(), node: process.version, cpu: cpus[0]?.model.trim() ?? null, cores: cpus.length, loadavg: Math.round(os.loadavg()[0]! * 100) / 100 };
}
