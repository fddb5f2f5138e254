/** impossible_travel: speed between the previous sign-in and this request, with both locators. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { distanceKm } from "../../../src/policy/risk/geo/distance.js";
import { builtinGeoLocator, BUILTIN_GEO_ENTRIES } from "../../../src/policy/risk/geo/builtin.js";
import { loadRiskResources } from "../../../src/policy/risk/resources.js";
import { ImpossibleTravelSignal } from "../../../src/policy/risk/signals/impossible-travel.js";
import type { RiskConfig } from "../../../src/policy/risk/config.js";
import type { RiskInput, SignInRecord } from "../../../src/policy/risk/types.js";
import { buildMmdb, cityRecord } from "./mmdb-writer.js";
import { config, ctxFor, HOUR, input, MINUTE, NOW, tempDir, writeFile } from "./helpers.js";

const LONDON = "192.0.2.10";
const NEW_YORK = "198.51.100.10";
const TOKYO = "203.0.113.10";
const PARIS = "198.18.0.10";
const AMSTERDAM = "198.18.1.10";
const at = (name: string) => BUILTIN_GEO_ENTRIES.find((e) => e.city === name)!;
const LONDON_NY_KM = distanceKm(at("London"), at("New York"));

function travel(ip: string | undefined, signIns: SignInRecord[] | undefined, c: RiskConfig = config()) {
  const s = new ImpossibleTravelSignal(c, builtinGeoLocator());
  const i: RiskInput = input({ ...(ip === undefined ? {} : { request: { ip } }), ...(signIns === undefined ? {} : { history: { signIns } }) });
  return s.evaluate(i, ctxFor(i, c));
}

describe("distanceKm", () => {
  test("known great-circle distances", () => {
    assert.equal(Math.round(LONDON_NY_KM), 5570);
    assert.equal(Math.round(distanceKm(at("London"), at("Paris"))), 344);
    assert.equal(distanceKm(at("Tokyo"), at("Tokyo")), 0);
    // Antipodes: half the circumference, no NaN from rounding.
    assert.equal(Math.round(distanceKm({ latitude: 0, longitude: 0 }, { latitude: 0, longitude: 180 })), 20015);
  });
});

describe("impossible_travel (built-in dataset)", () => {
  test("London → Tokyo in one hour is impossible; the reason names both places and the speed", () => {
    const r = travel(TOKYO, [{ time: NOW - HOUR, ip: LONDON }]);
    assert.deepEqual(r, {
      score: 75,
      reason: "sign-in from Tokyo, JP is 9559 km from the previous sign-in (London, GB) 60 minutes earlier: 9559 km/h, faster than the 1000 km/h limit",
    });
  });

  test("just under the speed limit: no verdict; just over: a verdict; exactly at it: none", () => {
    const hoursAtLimit = LONDON_NY_KM / 1000;
    assert.equal(travel(NEW_YORK, [{ time: NOW - hoursAtLimit * HOUR * 1.001, ip: LONDON }]), null);
    assert.equal(travel(NEW_YORK, [{ time: NOW - hoursAtLimit * HOUR, ip: LONDON }]), null);
    const over = travel(NEW_YORK, [{ time: NOW - hoursAtLimit * HOUR * 0.999, ip: LONDON }]);
    assert.equal(over?.score, 75);
    assert.match(over!.reason, /New York, US is 5570 km from the previous sign-in \(London, GB\) 5\.6 hours earlier: 1001 km\/h/);
  });

  test("the speed limit and score come from the configuration", () => {
    const c = config({ impossibleTravel: { maxSpeedKmh: 300, score: 55 } });
    // London → Paris (344 km) in 1 hour: fine at 1000 km/h, too fast at 300 km/h.
    assert.equal(travel(PARIS, [{ time: NOW - HOUR, ip: LONDON }]), null);
    assert.equal(travel(PARIS, [{ time: NOW - HOUR, ip: LONDON }], c)?.score, 55);
  });

  test("hops shorter than minDistanceKm never count (geolocation is not that precise)", () => {
    // Paris → Amsterdam is 430 km; in one minute that is 25,800 km/h.
    assert.equal(travel(AMSTERDAM, [{ time: NOW - MINUTE, ip: PARIS }])?.score, 75);
    assert.equal(travel(AMSTERDAM, [{ time: NOW - MINUTE, ip: PARIS }], config({ impossibleTravel: { minDistanceKm: 500 } })), null);
  });

  test("two places a millisecond apart", () => {
    const r = travel(TOKYO, [{ time: NOW - 1, ip: LONDON }]);
    assert.equal(r?.score, 75);
    assert.match(r!.reason, /less than a minute earlier: 34\d{9} km\/h/);
  });

  test("the previous sign-in is the latest before now, in any order; later ones are ignored", () => {
    const signIns = [
      { time: NOW - 10 * HOUR, ip: NEW_YORK },
      { time: NOW - HOUR, ip: LONDON },
      { time: NOW - 5 * HOUR, ip: TOKYO },
      { time: NOW, ip: TOKYO }, // the current sign-in, already recorded
      { time: NOW + HOUR, ip: NEW_YORK }, // clock skew
    ];
    assert.match(travel(TOKYO, signIns)!.reason, /previous sign-in \(London, GB\) 60 minutes/);
  });

  test("a location stored with the sign-in is used (no lookup needed)", () => {
    const r = travel(TOKYO, [{ time: NOW - HOUR, ip: "10.9.9.9", location: { latitude: 48.8566, longitude: 2.3522, city: "Paris", country: "FR" } }]);
    assert.match(r!.reason, /\(Paris, FR\)/);
    const unnamed = travel(TOKYO, [{ time: NOW - HOUR, location: { latitude: 48.8566, longitude: 2.3522 } }]);
    assert.match(unnamed!.reason, /\(48\.86, 2\.35\)/);
  });

  test("no verdict without a client IP, without history, or from the same place", () => {
    assert.equal(travel(undefined, [{ time: NOW - HOUR, ip: LONDON }]), null);
    assert.equal(travel(TOKYO, undefined), null);
    assert.equal(travel(TOKYO, []), null);
    assert.equal(travel(TOKYO, [{ time: NOW - MINUTE, ip: "203.0.113.99" }]), null);
    // IPv6 works the same way: Berlin → Sydney in 2 hours.
    assert.equal(travel("2001:db8:1::9", [{ time: NOW - 2 * HOUR, ip: "2001:db8::1" }])?.score, 75);
  });

  test("unknown locations: quiet by default, a configurable caution", () => {
    assert.equal(travel("10.0.0.1", [{ time: NOW - HOUR, ip: LONDON }]), null);
    assert.equal(travel(TOKYO, [{ time: NOW - HOUR, ip: "10.0.0.1" }]), null);
    assert.equal(travel(TOKYO, [{ time: NOW - HOUR }]), null);
    const c = config({ impossibleTravel: { unknownLocationScore: 10 } });
    assert.deepEqual(travel("10.0.0.1", [{ time: NOW - HOUR, ip: LONDON }], c), {
      score: 10,
      reason: "cannot tell where this request came from, so impossible travel cannot be ruled out",
    });
    assert.match(travel(TOKYO, [{ time: NOW - HOUR, ip: "bogus" }], c)!.reason, /the previous sign-in/);
  });
});

describe("impossible_travel with a MaxMind DB", () => {
  const dir = tempDir();
  writeFile(dir, "city.mmdb", buildMmdb([
    { cidr: "81.2.69.0/24", data: cityRecord("London", "GB", 51.5142, -0.0931) },
    { cidr: "175.16.199.0/24", data: cityRecord("Changchun", "CN", 43.88, 125.3228) },
    { cidr: "2a02:2770::/32", data: cityRecord("Berlin", "DE", 52.52, 13.405) },
    { cidr: "89.160.20.112/28", data: cityRecord("Linkoping", "SE", 58.4167, 15.6167) },
  ]));
  writeFile(dir, "country.mmdb", buildMmdb([{ cidr: "81.2.69.0/24", data: { country: { iso_code: "GB" } } }], { databaseType: "GeoLite2-Country" }));
  writeFile(dir, "junk.mmdb", Buffer.from("this is not a database at all"));

  const withDb = (file: string) => {
    const c = config({ impossibleTravel: { geoDatabase: file } });
    const r = loadRiskResources(c, { baseDir: dir });
    return { c, signal: new ImpossibleTravelSignal(c, r.geo, r.geoProblems), problems: r.geoProblems };
  };
  const run = (s: ImpossibleTravelSignal, c: RiskConfig, ip: string, prev: SignInRecord[]) => {
    const i = input({ request: { ip }, history: { signIns: prev } });
    return s.evaluate(i, ctxFor(i, c));
  };

  test("locations come from the database (IPv4 and IPv6)", () => {
    const { c, signal, problems } = withDb("city.mmdb");
    assert.deepEqual(problems, []);
    const r = run(signal, c, "175.16.199.3", [{ time: NOW - 2 * HOUR, ip: "81.2.69.160" }]);
    assert.equal(r?.score, 75);
    assert.match(r!.reason, /^sign-in from Changchun, CN is 8\d{3} km from the previous sign-in \(London, GB\) 2\.0 hours earlier: 4091 km\/h/);
    assert.match(run(signal, c, "2a02:2770:0:1::7", [{ time: NOW - 10 * MINUTE, ip: "::ffff:81.2.69.1" }])!.reason, /Berlin, DE is 9\d\d km .*\(London, GB\)/);
    // Linköping → London in a day is plausible; an address outside every network is unknown.
    assert.equal(run(signal, c, "89.160.20.127", [{ time: NOW - 24 * HOUR, ip: "81.2.69.1" }]), null);
    assert.equal(run(signal, c, "89.160.20.128", [{ time: NOW - MINUTE, ip: "81.2.69.1" }]), null);
    // The built-in test ranges are not in this database.
    assert.equal(run(signal, c, TOKYO, [{ time: NOW - MINUTE, ip: LONDON }]), null);
  });

  test("a missing, broken or non-City database is reported, and every assessment carries a caution", () => {
    for (const [file, problem] of [
      ["nope.mmdb", /cannot read the geolocation database \(ENOENT\)/],
      ["junk.mmdb", /not a MaxMind DB file/],
      ["country.mmdb", /database type "GeoLite2-Country" has no city locations/],
    ] as const) {
      const { c, signal, problems } = withDb(file);
      assert.equal(problems.length, 1, file);
      assert.match(problems[0]!.problem, problem);
      const r = run(signal, c, "81.2.69.1", []);
      assert.equal(r?.score, 20, file);
      assert.match(r!.reason, /^geolocation database unavailable \(.*\); impossible travel cannot be checked$/);
    }
  });
});
