/**
 * A tiny geolocation dataset for tests and demos, NOT for production: it places only the
 * address ranges reserved for documentation and benchmarking (RFC 5737, RFC 2544, RFC 3849,
 * RFC 9637), which never appear on the Internet, in a few cities. Real addresses are unknown to
 * it. Configure `impossibleTravel.geoDatabase` (a GeoLite2-City or compatible MaxMind DB) for
 * real locations.
 */
import { TableGeoLocator, type GeoTableEntry } from "./locator.js";

export const BUILTIN_GEO_ENTRIES: readonly GeoTableEntry[] = Object.freeze([
  { cidr: "192.0.2.0/24", city: "London", country: "GB", latitude: 51.5074, longitude: -0.1278 },
  { cidr: "198.51.100.0/24", city: "New York", country: "US", latitude: 40.7128, longitude: -74.006 },
  { cidr: "203.0.113.0/24", city: "Tokyo", country: "JP", latitude: 35.6762, longitude: 139.6503 },
  { cidr: "198.18.0.0/24", city: "Paris", country: "FR", latitude: 48.8566, longitude: 2.3522 },
  { cidr: "198.18.1.0/24", city: "Amsterdam", country: "NL", latitude: 52.3676, longitude: 4.9041 },
  { cidr: "198.19.0.0/24", city: "San Francisco", country: "US", latitude: 37.7749, longitude: -122.4194 },
  { cidr: "2001:db8::/48", city: "Berlin", country: "DE", latitude: 52.52, longitude: 13.405 },
  { cidr: "2001:db8:1::/48", city: "Sydney", country: "AU", latitude: -33.8688, longitude: 151.2093 },
  { cidr: "3fff::/32", city: "Sao Paulo", country: "BR", latitude: -23.5505, longitude: -46.6333 },
]);

/** The built-in test/demo locator. */
export function builtinGeoLocator(): TableGeoLocator {
  return new TableGeoLocator(BUILTIN_GEO_ENTRIES);
}
