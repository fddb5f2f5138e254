/**
 * RFC 5424 syslog messages for audit entries:
 *
 *   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [tenet@PEN seq="…" type="…" decision="…"] BOM MSG
 *
 * - PRI = facility · 8 + severity (§6.2.1). Severity comes from the entry's decision: deny and
 *   failure → 4 warning, challenge and pending → 5 notice, anything else → 6 informational.
 * - TIMESTAMP is the entry's time (RFC 3339, UTC, milliseconds: §6.2.3 allows this form).
 * - MSGID is the entry's type (`access.decision`), cut to 32 characters (§6.2.7).
 * - The structured data element carries the sequence number, so a receiver can order entries and
 *   drop duplicates without parsing MSG (§6.3). Its SD-ID is `tenet@<PEN>`; 32473 is the private
 *   enterprise number RFC 5612 reserves for documentation — set your own if you have one.
 * - MSG is the event exactly as stored, UTF-8, after a BOM (§6.4) unless `bom` is off (some
 *   collectors keep the BOM in the text and then fail to parse the JSON).
 *
 * A message longer than `maxMessageBytes` would be cut by the receiver or refused by the network;
 * instead its MSG becomes a short JSON stand-in, `{"seq":…,"type":"…","truncated":true,"bytes":…}`,
 * and the element gains `truncated="<original MSG bytes>"`: the receiver still learns that the
 * entry exists and where to fetch it (the audit API, by seq), and its JSON still parses.
 */
import type { AuditRow } from "../../../storage/interfaces.js";

export const FACILITIES = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9,
  authpriv: 10, ftp: 11, ntp: 12, audit: 13, alert: 14, clock: 15,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
} as const;

export type FacilityName = keyof typeof FACILITIES;

/** RFC 5424 §6.2.1 severities used here. */
export const SEVERITY = { warning: 4, notice: 5, informational: 6 } as const;

export interface SyslogFormat {
  /** 0–23 (default 10, authpriv: security and authorization messages, kept private). */
  facility: number;
  hostname: string;
  appName: string;
  procId: string;
  /** The SD-ID's private enterprise number. */
  enterpriseId: number;
  bom: boolean;
  maxMessageBytes: number;
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
/** RFC 5424 §6.5 example form: full date, time with fraction, and Z or an offset. */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;

export function severityOf(row: AuditRow): number {
  switch (row.decision) {
    case "deny":
    case "failure":
      return SEVERITY.warning;
    case "challenge":
    case "pending":
      return SEVERITY.notice;
    default:
      return SEVERITY.informational;
  }
}

/** A header field: printable US-ASCII without spaces (§6), at most `max` characters, `-` if empty. */
export function headerField(value: string, max: number): string {
  let out = "";
  for (const ch of value) {
    const c = ch.codePointAt(0)!;
    out += c >= 33 && c <= 126 ? ch : "_";
    if (out.length >= max) break;
  }
  return out === "" ? "-" : out;
}

/** §6.3.3: inside PARAM-VALUE, `"`, `\` and `]` are escaped with a backslash. */
function paramValue(value: string): string {
  return value.replace(/["\\\]]/g, (c) => `\\${c}`);
}

function timestamp(time: string): string {
  if (TIMESTAMP.test(time)) return time;
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? "-" : new Date(ms).toISOString();
}

/** The RFC 5424 message for one entry (without transport framing), and whether MSG was replaced. */
export function formatMessage(row: AuditRow, f: SyslogFormat): { message: Buffer; truncated: boolean } {
  const pri = f.facility * 8 + severityOf(row);
  const header = `<${pri}>1 ${timestamp(row.time)} ${headerField(f.hostname, 255)} ${headerField(f.appName, 48)} ${headerField(f.procId, 128)} ${headerField(row.type, 32)} `;
  const params = [`seq="${row.seq}"`, `type="${paramValue(row.type)}"`];
  if (row.decision !== null) params.push(`decision="${paramValue(row.decision)}"`);
  const event = Buffer.from(row.event, "utf8");
  const build = (extra: string, msg: Buffer) => {
    const head = Buffer.from(`${header}[tenet@${f.enterpriseId} ${params.join(" ")}${extra}] `, "utf8");
    return f.bom ? Buffer.concat([head, BOM, msg]) : Buffer.concat([head, msg]);
  };
  const full = build("", event);
  if (full.length <= f.maxMessageBytes) return { message: full, truncated: false };
  const stub = Buffer.from(JSON.stringify({ seq: row.seq, type: row.type, truncated: true, bytes: event.length }), "utf8");
  return { message: build(` truncated="${event.length}"`, stub), truncated: true };
}
