/**
 * Where an address is. The impossible_travel signal asks a GeoLocator; Tenet has two: a table of
 * CIDR ranges (the small built-in dataset, or any list given in code) and a MaxMind DB reader.
 */
import type { IpAddr } from "../ip.js";
import { parseCidr } from "../ip.js";
import { IpRangeTable } from "../ip-range-table.js";
import type { GeoLocation } from "../types.js";

export interface GeoLocator {
  /** The location of `ip`, or undefined when the source does not know it. Synchronous and fast. */
  locate(ip: IpAddr): GeoLocation | undefined;
}

export interface GeoTableEntry extends GeoLocation {
  /** A CIDR range or an address. */
  cidr: string;
}

/** A GeoLocator over a list of ranges; O(log n) per lookup. */
export class TableGeoLocator implements GeoLocator {
  readonly #table: IpRangeTable<GeoLocation>;

  constructor(entries: readonly GeoTableEntry[]) {
    this.#table = new IpRangeTable(
      entries.map(({ cidr, ...location }) => {
        const range = parseCidr(cidr);
        if (range === undefined) throw new TypeError(`geolocation entry ${JSON.stringify(cidr)} is not a CIDR range`);
        return { range, value: Object.freeze(location) };
      }),
    );
  }

  locate(ip: IpAddr): GeoLocation | undefined {
    return this.#table.find(ip);
  }
}
