/**
 * The SCIM filter and PATCH path parser on its own: the forms identity providers send, their
 * evaluation (case rules per attribute), and hostile input — every failure a SCIM 400, never an
 * exception of another kind, and never slow.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ScimError } from "../../../src/api/scim/errors.js";
import { matches, parseFilter, parsePath } from "../../../src/api/scim/filter.js";
import { GROUP, USER } from "../../../src/api/scim/schemas.js";
import { rng } from "../../rng.js";

const jane = {
  schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
  id: "jane",
  externalId: "00uAbC",
  userName: "Jane.Doe@Example.com",
  name: { givenName: "Jane", familyName: "Doe" },
  displayName: "Jane Doe",
  active: true,
  emails: [
    { value: "jane@work.example", type: "work", primary: true },
    { value: "jane@home.example", type: "home" },
  ],
};

const is = (filter: string) => matches(jane, parseFilter(filter, USER));

describe("filters", () => {
  test("the forms identity providers send", () => {
    assert.equal(is('userName eq "jane.doe@example.com"'), true, "userName is not case-sensitive");
    assert.equal(is('externalId eq "00uAbC"'), true);
    assert.equal(is('externalId eq "00uabc"'), false, "externalId is case-sensitive");
    assert.equal(is('id eq "jane"'), true);
    assert.equal(is('id eq "JANE"'), false);
    assert.equal(is('displayName eq "jane doe"'), true);
    assert.equal(is('emails.value eq "jane@home.example"'), true);
    assert.equal(is('emails eq "jane@home.example"'), true, "a complex attribute compares its value");
    assert.equal(is('emails[type eq "work"].value eq "jane@work.example"'), true);
    assert.equal(is('emails[type eq "work"].value eq "jane@home.example"'), false, "the same value must satisfy both");
    assert.equal(is('emails[type eq "home" and value eq "jane@home.example"]'), true);
    assert.equal(is('emails[type eq "work" and primary eq true]'), true);
    assert.equal(is('emails[type eq "home" and primary eq true]'), false);
    assert.equal(is("active eq true"), true);
    assert.equal(is('active eq "True"'), true, "Entra's string booleans");
    assert.equal(is('userName eq "jane.doe@example.com" and name.familyName eq "doe"'), true);
    assert.equal(is('userName eq "jane.doe@example.com" and name.familyName eq "roe"'), false);
    assert.equal(is("displayName eq null"), false);
    assert.equal(is('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "Jane.Doe@Example.com"'), true);
    assert.equal(is('userName eq "Jane.Doe\\u0040Example.com"'), true, "JSON escapes in strings");
  });

  test("group membership", () => {
    const g = { id: "eng", displayName: "Engineering", members: [{ value: "jane" }, { value: "bob" }] };
    assert.equal(matches(g, parseFilter('members[value eq "bob"]', GROUP)), true);
    assert.equal(matches(g, parseFilter('id eq "eng" and members[value eq "BOB"]', GROUP)), false);
    assert.equal(matches(g, parseFilter('members.value eq "jane"', GROUP)), true);
    assert.equal(matches({ id: "empty", displayName: "E" }, parseFilter('members[value eq "bob"]', GROUP)), false);
  });

  test("what is refused, with the reason", () => {
    const cases: Array<[string, RegExp]> = [
      ['userName co "j"', /operator 'co' is not supported/],
      ['userName eq "a" or userName eq "b"', /'or' is not supported/],
      ['(userName eq "a")', /parentheses/],
      ['not(userName eq "a")', /'not' is not supported/],
      ['title eq "x"', /unknown attribute/],
      ['userName eq "x" and', /expected an attribute/],
      ['userName eq "x" userName', /unexpected/],
      ["userName eq x", /expected a value/],
      ['active eq "x"', /boolean/],
      ["displayName eq true", /string/],
      ['emails[type eq "work"', /expected '\]'/],
      ['emails[type eq "work"].nope eq "x"', /unknown sub-attribute/],
      ['name[givenName eq "x"]', /not a multi-valued/],
      ['userName eq "\\x"', /invalid string/],
      ["userName eq \u00e9", /unexpected character/],
      ["userName eq 12345678901234567890", /expected a value/],
    ];
    for (const [filter, why] of cases) {
      assert.throws(() => parseFilter(filter, USER), (e: unknown) => e instanceof ScimError && e.status === 400 && e.scimType === "invalidFilter" && why.test(e.detail), filter);
    }
  });

  test("random input: a result or a SCIM 400, quickly", () => {
    const next = rng(7643);
    const pieces = ["userName", "emails", "[", "]", ".value", "type", " eq ", " and ", " or ", '"x"', '"', "\\", "(", ")", "true", "null", "urn:ietf:params:scim:schemas:core:2.0:User:", " ", ".", "members", "value", "{", "é", "0"];
    const started = Date.now();
    for (let i = 0; i < 20_000; i++) {
      let s = "";
      const n = 1 + Math.floor(next() * 12);
      for (let j = 0; j < n; j++) s += pieces[Math.floor(next() * pieces.length)];
      for (const rs of [USER, GROUP]) {
        try {
          matches(jane, parseFilter(s, rs));
        } catch (e) {
          assert.ok(e instanceof ScimError && e.status === 400 && e.scimType === "invalidFilter", `${JSON.stringify(s)}: ${String(e)}`);
        }
        try {
          parsePath(s, rs);
        } catch (e) {
          assert.ok(e instanceof ScimError && e.status === 400 && e.scimType === "invalidPath", `${JSON.stringify(s)}: ${String(e)}`);
        }
      }
    }
    assert.ok(Date.now() - started < 10_000);
  });

  test("the longest inputs are refused at once, and near-limit ones parse in linear time", () => {
    assert.throws(() => parseFilter('userName eq "' + "a".repeat(5000) + '"', USER), /longer than/);
    const quotes = '"' + "\\".repeat(1000);
    const started = Date.now();
    for (let i = 0; i < 1000; i++) assert.throws(() => parseFilter(quotes.slice(0, 1020), USER), ScimError);
    assert.ok(Date.now() - started < 2000);
  });
});

describe("PATCH paths", () => {
  test("attribute, sub-attribute, value path, qualified name", () => {
    const p1 = parsePath("userName", USER);
    assert.equal(p1.kind === "attribute" && p1.attr.def.name, "userName");
    const p2 = parsePath("name.GIVENNAME", USER);
    assert.equal(p2.kind === "attribute" && p2.sub?.name, "givenName");
    const p3 = parsePath('emails[type eq "work"].value', USER);
    assert.ok(p3.kind === "attribute" && p3.where?.length === 1 && p3.sub?.name === "value");
    const p4 = parsePath("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", USER);
    assert.ok(p4.kind === "attribute" && p4.attr.extension === "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User");
    const p5 = parsePath("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", USER);
    assert.equal(p5.kind, "extension");
    const p6 = parsePath('members[value eq "u1"]', GROUP);
    assert.ok(p6.kind === "attribute" && p6.attr.def.name === "members");
  });

  test("attributes Tenet does not keep are unknown (their operations are ignored), not errors", () => {
    for (const p of ["title", "phoneNumbers[type eq \"work\"].value", "name.middleName", "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:costCenter", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"]) {
      assert.equal(parsePath(p, USER).kind, "unknown", p);
    }
  });

  test("malformed paths are invalidPath", () => {
    for (const p of ["", "a b", 'emails[type eq "work"', 'emails[type co "work"]', "name.givenName.x", 'name[givenName eq "x"]', "emails]", '"userName"', "userName eq", 'emails[type eq "w"][value eq "x"]', 'emails[foo eq "x"]']) {
      assert.throws(() => parsePath(p, USER), (e: unknown) => e instanceof ScimError && e.scimType === "invalidPath", p);
    }
  });
});
