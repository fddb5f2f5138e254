/**
 * OpenFGA condition parameter types: decoding the declared type (`{type_name, generic_types}` as it
 * appears in a JSON authorization model) and converting JSON context values into the runtime
 * values the CEL library expects (int → bigint, uint → UnsignedInt, timestamp → Date, ...).
 *
 * Conversion rules follow OpenFGA's `internal/condition/types/converters.go`:
 * - bool and string are strict (no coercion);
 * - int, uint and double accept JSON numbers or numeric strings ("12", "1e3"); int and uint must be
 *   integral and uint must be >= 0. Unlike Go (which saturates) values outside the 64-bit range are
 *   rejected rather than silently clamped;
 * - duration is a Go duration string ("1h30m", "-1.5s", "300ms"); timestamp an RFC 3339 string;
 * - ipaddress is an IPv4/IPv6 address string;
 * - list<T> / map<T> convert elements recursively (map keys are always strings);
 * - any passes the JSON value through untouched, so numbers stay doubles exactly as in OpenFGA
 *   (where structpb numbers are float64); CEL's cross-type numeric comparison makes `x < 100` work.
 * Already-converted values (bigint, Date, Duration, IPAddress, ...) are accepted too, so internal
 * callers may pass typed values.
 */
import { Duration, UnsignedInt } from "@marcbachmann/cel-js/evaluator";
import { IPADDRESS_CEL_TYPE, IPAddress } from "./ipaddress.js";

export interface ConditionParamTypeJson {
  type_name: string;
  generic_types?: ConditionParamTypeJson[];
}

/** Thrown by `decodeParamType` / `ParamType.convert`; callers wrap it in a TenetError with context. */
export class ParamTypeError extends Error {
  override readonly name = "ParamTypeError";
}

export interface ParamType {
  /** OpenFGA-style name for messages, e.g. `int`, `map<list<string>>`. */
  readonly display: string;
  /** The type string for the CEL Environment, e.g. `map<string, list<string>>`. */
  readonly celType: string;
  /** Converts a JSON value; throws ParamTypeError describing what was expected. */
  convert(value: unknown): unknown;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "list";
  if (typeof value === "string") return `string '${value}'`;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return `${typeof value} '${String(value)}'`;
  return typeof value;
}

function scalar(display: string, celType: string, convert: (v: unknown) => unknown): ParamType {
  return { display, celType, convert };
}

// A JSON-ish decimal number: what Go's big.ParseFloat(s, 10, ...) accepts, minus Inf/NaN.
const DECIMAL = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/;

/** Exact integer value of a decimal string, `undefined` if not a number, `null` if not integral. */
function decimalToBigInt(text: string): bigint | null | undefined {
  const m = DECIMAL.exec(text);
  if (m === null) return undefined;
  const [, sign = "", intPart = "", fracPart = "", expText = "0"] = m;
  if (intPart === "" && fracPart === "") return undefined;
  const digits = (intPart + fracPart).replace(/^0+/, "");
  if (digits === "") return 0n;
  // Work on significant digits only, so hostile inputs ("1e-99999999", 10k digits) stay cheap.
  const significant = digits.replace(/0+$/, "");
  const exp = Number(expText) - fracPart.length + (digits.length - significant.length);
  if (exp < 0) return null; // the last non-zero digit is after the decimal point
  if (significant.length + exp > 20) return sign === "-" ? INT64_MIN - 1n : UINT64_MAX + 1n; // beyond 64 bits
  const value = BigInt(significant) * 10n ** BigInt(exp);
  return sign === "-" ? -value : value;
}

function toInteger(value: unknown, kind: "int" | "uint"): bigint {
  let n: bigint | null | undefined;
  if (typeof value === "bigint") n = value;
  else if (value instanceof UnsignedInt) n = value.value;
  else if (typeof value === "number") n = Number.isFinite(value) ? (Number.isInteger(value) ? BigInt(value) : null) : undefined;
  else if (typeof value === "string") n = decimalToBigInt(value);
  if (n === undefined) throw new ParamTypeError(`expected ${kind === "int" ? "an" : "a"} ${kind} value, but found ${describe(value)}`);
  if (n === null) throw new ParamTypeError(`expected ${kind === "int" ? "an" : "a"} ${kind} value, but found non-integral ${describe(value)}`);
  const [min, max] = kind === "int" ? [INT64_MIN, INT64_MAX] : [0n, UINT64_MAX];
  if (n < min || n > max) throw new ParamTypeError(`expected ${kind === "int" ? "an" : "a"} ${kind} value, but ${describe(value)} is out of range`);
  return n;
}

function toDouble(value: unknown): number {
  // Non-finite values are rejected: JSON cannot carry them and Go's decoder refuses 1e309.
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "bigint") return Number(value);
  if (typeof value === "string" && DECIMAL.test(value) && /[0-9]/.test(value) && Number.isFinite(Number(value))) return Number(value);
  throw new ParamTypeError(`expected a double value, but found ${describe(value)}`);
}

// --- duration (Go time.ParseDuration) ---------------------------------------------------------

const UNIT_NANOS: Record<string, bigint> = {
  ns: 1n, us: 1000n, "\u00b5s": 1000n, "\u03bcs": 1000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n,
};
const DURATION_PART = /^([0-9]*)(?:\.([0-9]*))?([^0-9.]+)/;

/** Parses a Go duration string into nanoseconds; undefined when malformed or beyond int64 ns. */
export function parseGoDuration(text: string): bigint | undefined {
  let s = text;
  const negative = s.startsWith("-");
  if (negative || s.startsWith("+")) s = s.slice(1);
  if (s === "0") return 0n;
  if (s === "") return undefined;
  let total = 0n;
  while (s !== "") {
    const m = DURATION_PART.exec(s);
    if (m === null) return undefined;
    const [whole, intPart = "", fracPart = "", unit = ""] = m;
    const unitNanos = UNIT_NANOS[unit];
    if ((intPart === "" && fracPart === "") || unitNanos === undefined || intPart.replace(/^0+/, "").length > 20) return undefined;
    total += BigInt(intPart || "0") * unitNanos;
    // 18 fraction digits are far below a nanosecond for every unit; more only costs time.
    const frac = fracPart.slice(0, 18);
    if (frac !== "") total += (BigInt(frac) * unitNanos) / 10n ** BigInt(frac.length);
    if (total > INT64_MAX + (negative ? 1n : 0n)) return undefined;
    s = s.slice(whole.length);
  }
  return negative ? -total : total;
}

function toDuration(value: unknown): Duration {
  if (value instanceof Duration) return value;
  if (typeof value !== "string") throw new ParamTypeError(`expected a duration string, but found ${describe(value)}`);
  const nanos = parseGoDuration(value);
  if (nanos === undefined) throw new ParamTypeError(`expected a valid duration string, but found '${value}'`);
  // Same shape the library's own duration() produces: seconds and nanos share the sign.
  return new Duration(nanos / 1_000_000_000n, Number(nanos % 1_000_000_000n));
}

// --- timestamp (Go time.Parse(time.RFC3339, ...)) ---------------------------------------------

const RFC3339 = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(?:Z|([+-])([0-9]{2}):([0-9]{2}))$/;
// CEL's timestamp range: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z.
const MIN_TS_MS = -62135596800000;
const MAX_TS_MS = 253402300799999;

/** Parses an RFC 3339 timestamp (millisecond precision: JS Dates cannot hold nanoseconds). */
export function parseRfc3339(text: string): Date | undefined {
  const m = RFC3339.exec(text);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !isLeap(year) ? 1 : 0);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return undefined;
  const offsetHours = Number(m[9] ?? 0);
  const offsetMinutes = Number(m[10] ?? 0);
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  const millis = Number((m[7] ?? "").slice(0, 3).padEnd(3, "0"));
  const date = new Date(Date.UTC(2000, month - 1, day, hour, minute, second, millis));
  date.setUTCFullYear(year); // Date.UTC maps years 0-99 to 1900-1999
  const offset = (m[8] === "-" ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  const ms = date.getTime() - offset;
  return ms < MIN_TS_MS || ms > MAX_TS_MS ? undefined : new Date(ms);
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function toTimestamp(value: unknown): Date {
  if (value instanceof Date) return value;
  if (typeof value !== "string") throw new ParamTypeError(`expected RFC 3339 formatted timestamp string, but found ${describe(value)}`);
  const date = parseRfc3339(value);
  if (date === undefined) throw new ParamTypeError(`expected RFC 3339 formatted timestamp string, but found '${value}'`);
  return date;
}

function toIpAddress(value: unknown): IPAddress {
  if (value instanceof IPAddress) return value;
  if (typeof value !== "string") throw new ParamTypeError(`expected an ipaddress string, but found ${describe(value)}`);
  const ip = IPAddress.parse(value);
  if (ip === undefined) throw new ParamTypeError(`expected a well-formed IP address, but found '${value}'`);
  return ip;
}

// --- the type table ---------------------------------------------------------------------------

const SCALARS: Record<string, ParamType> = {
  TYPE_NAME_ANY: scalar("any", "dyn", (v) => v),
  TYPE_NAME_BOOL: scalar("bool", "bool", (v) => {
    if (typeof v !== "boolean") throw new ParamTypeError(`expected a bool value, but found ${describe(v)}`);
    return v;
  }),
  TYPE_NAME_STRING: scalar("string", "string", (v) => {
    if (typeof v !== "string") throw new ParamTypeError(`expected a string value, but found ${describe(v)}`);
    return v;
  }),
  TYPE_NAME_INT: scalar("int", "int", (v) => toInteger(v, "int")),
  TYPE_NAME_UINT: scalar("uint", "uint", (v) => new UnsignedInt(toInteger(v, "uint"))),
  TYPE_NAME_DOUBLE: scalar("double", "double", toDouble),
  TYPE_NAME_DURATION: scalar("duration", "google.protobuf.Duration", toDuration),
  TYPE_NAME_TIMESTAMP: scalar("timestamp", "google.protobuf.Timestamp", toTimestamp),
  TYPE_NAME_IPADDRESS: scalar("ipaddress", IPADDRESS_CEL_TYPE, toIpAddress),
};

function listOf(elem: ParamType): ParamType {
  return {
    display: `list<${elem.display}>`,
    celType: `list<${elem.celType}>`,
    convert(value) {
      if (!Array.isArray(value)) throw new ParamTypeError(`expected a list, but found ${describe(value)}`);
      return value.map((item: unknown, i) => {
        try {
          return elem.convert(item);
        } catch (err) {
          throw new ParamTypeError(`found an invalid value at index ${i}: ${(err as Error).message}`);
        }
      });
    },
  };
}

function mapOf(elem: ParamType): ParamType {
  return {
    display: `map<${elem.display}>`,
    celType: `map<string, ${elem.celType}>`,
    convert(value) {
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ParamTypeError(`expected a map, but found ${describe(value)}`);
      // A Map (not a plain object) so keys like "constructor" never hit Object.prototype.
      const out = new Map<string, unknown>();
      const entries = value instanceof Map ? [...(value as Map<string, unknown>)] : Object.entries(value);
      for (const [key, item] of entries) {
        try {
          out.set(key, elem.convert(item));
        } catch (err) {
          throw new ParamTypeError(`found an invalid value for key '${key}': ${(err as Error).message}`);
        }
      }
      return out;
    },
  };
}

/** Decodes a declared parameter type; throws ParamTypeError for unknown names or wrong generic arity. */
export function decodeParamType(json: ConditionParamTypeJson): ParamType {
  const name = json.type_name;
  const generics = json.generic_types ?? [];
  const expected = name === "TYPE_NAME_LIST" || name === "TYPE_NAME_MAP" ? 1 : Object.hasOwn(SCALARS, name) ? 0 : -1;
  if (expected === -1) throw new ParamTypeError(`unknown condition parameter type \`${String(name)}\``);
  if (generics.length !== expected) {
    throw new ParamTypeError(`condition parameter type \`${name}\` requires ${expected} generic type(s); found ${generics.length}`);
  }
  const first = generics[0];
  if (first === undefined) return SCALARS[name] as ParamType;
  const elem = decodeParamType(first);
  return name === "TYPE_NAME_LIST" ? listOf(elem) : mapOf(elem);
}
