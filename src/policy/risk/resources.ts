/**
 * Loading what the default signals need from disk (lists, feeds, the geolocation database),
 * once at start. Loading never throws for a bad file: each problem is returned (for start-up
 * logs) and the signal that lost its data becomes more cautious.
 */
import { resolve } from "node:path";
import type { RiskConfig } from "./config.js";
import { builtinGeoLocator } from "./geo/builtin.js";
import type { GeoLocator } from "./geo/locator.js";
import { loadMmdbGeoLocator } from "./geo/mmdb.js";
import { loadIpReputationLists, type IpReputationLists } from "./ip-lists.js";
import type { LoadProblem } from "./types.js";

export interface RiskResources {
  ipLists: IpReputationLists;
  ipProblems: LoadProblem[];
  /** Undefined when the configured geolocation database failed to load. */
  geo: GeoLocator | undefined;
  geoProblems: LoadProblem[];
}

export interface LoadRiskResourcesOptions {
  /** Relative file names in the configuration are resolved against this (default: the working directory). */
  baseDir?: string;
  /** Use this locator instead of the configured database or the built-in dataset. */
  geoLocator?: GeoLocator;
}

export function loadRiskResources(config: RiskConfig, opts: LoadRiskResourcesOptions = {}): RiskResources {
  const baseDir = opts.baseDir ?? process.cwd();
  const ipProblems: LoadProblem[] = [];
  const ipLists = loadIpReputationLists(config, baseDir, ipProblems);
  const geoProblems: LoadProblem[] = [];
  let geo: GeoLocator | undefined;
  const dbFile = config.impossibleTravel.geoDatabase;
  if (opts.geoLocator !== undefined) {
    geo = opts.geoLocator;
  } else if (dbFile !== undefined) {
    const r = loadMmdbGeoLocator(resolve(baseDir, dbFile));
    if ("locator" in r) geo = r.locator;
    else geoProblems.push(r.problem);
  } else {
    geo = builtinGeoLocator();
  }
  return { ipLists, ipProblems, geo, geoProblems };
}

/** Every problem, lists first. */
export function resourceProblems(r: RiskResources): LoadProblem[] {
  return [...r.ipProblems, ...r.geoProblems];
}
