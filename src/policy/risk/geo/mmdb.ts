/**
 * Locations from a MaxMind DB file (https://maxmind.github.io/MaxMind-DB/) with the GeoLite2/
 * GeoIP2 City record layout (`location.latitude`, `city.names.en`, `country.iso_code`), read with
 * `mmdb-lib` from a Buffer held in memory.
 *
 * Decoding a record costs microseconds, far more than the rest of an assessment, and the same
 * few addresses come back again and again (a user's office, home, phone), so decoded locations
 * are kept in a bounded cache. The cache changes only the speed, never an answer.
 */
import { readFileSync } from "node:fs";
import { Reader, type CityResponse } from "mmdb-lib";
import { formatIp, type IpAddr } from "../ip.js";
import type { GeoLocation, LoadProblem } from "../types.js";
import type { GeoLocator } from "./locator.js";

const DEFAULT_CACHE_SIZE = 10_000;

export class MmdbGeoLocator implements GeoLocator {
  readonly #reader: Reader<CityResponse>;
  readonly #cache = new Map<number | string, GeoLocation | null>();
  readonly #cacheSize: number;

  /** Throws when the buffer is not a MaxMind DB. */
  constructor(db: Buffer, opts: { cacheSize?: number } = {}) {
    this.#reader = new Reader<CityResponse>(db);
    this.#cacheSize = opts.cacheSize ?? DEFAULT_CACHE_SIZE;
  }

  get databaseType(): string {
    return this.#reader.metadata.databaseType;
  }

  locate(ip: IpAddr): GeoLocation | undefined {
    const key = ip.version === 4 ? ip.n : `${ip.w[0]}:${ip.w[1]}:${ip.w[2]}:${ip.w[3]}`;
    const cached = this.#cache.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const found = this.#lookup(ip);
    if (this.#cache.size >= this.#cacheSize) this.#cache.delete(this.#cache.keys().next().value as number | string);
    this.#cache.set(key, found ?? null);
    return found;
  }

  #lookup(ip: IpAddr): GeoLocation | undefined {
    let record: CityResponse | null;
    try {
      record = this.#reader.get(formatIp(ip));
    } catch {
      return undefined; // e.g. an IPv6 address in an IPv4-only database
    }
    return record === null ? undefined : toLocation(record);
  }
}

/** The fields Tenet uses, checked: a record without usable coordinates is "unknown". */
function toLocation(r: CityResponse): GeoLocation | undefined {
  const lat = r.location?.latitude;
  const lon = r.location?.longitude;
  if (typeof lat !== "number" || typeof lon !== "number" || !(Math.abs(lat) <= 90) || !(Math.abs(lon) <= 180)) return undefined;
  const out: GeoLocation = { latitude: lat, longitude: lon };
  const city = r.city?.names?.en;
  if (typeof city === "string" && city !== "") out.city = city;
  const country = r.country?.iso_code ?? r.registered_country?.iso_code;
  if (typeof country === "string" && country !== "") out.country = country;
  const radius = r.location?.accuracy_radius;
  if (typeof radius === "number") out.accuracyRadiusKm = radius;
  return Object.freeze(out);
}

/**
 * Opens a database file. Never throws: a missing or unusable file gives a problem instead, and
 * the caller treats locations as unavailable (and says so in every assessment).
 */
export function loadMmdbGeoLocator(path: string): { locator: MmdbGeoLocator } | { problem: LoadProblem } {
  let db: Buffer;
  try {
    db = readFileSync(path);
  } catch (err) {
    return { problem: { file: path, problem: `cannot read the geolocation database (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` } };
  }
  let locator: MmdbGeoLocator;
  try {
    locator = new MmdbGeoLocator(db);
  } catch (err) {
    return { problem: { file: path, problem: `not a MaxMind DB file: ${(err as Error).message}` } };
  }
  // A Country or ASN database opens fine but has no coordinates: every lookup would be
  // "unknown" and impossible travel silently off.
  if (!/city/i.test(locator.databaseType)) {
    return { problem: { file: path, problem: `database type ${JSON.stringify(locator.databaseType)} has no city locations; use a City database (e.g. GeoLite2-City)` } };
  }
  return { locator };
}
