/**
 * Tenet users and groups as SCIM resources (RFC 7643 §4) and back.
 *
 * Resources are handled in a canonical form: attribute names spelled as the schema spells them
 * (clients may use any case, RFC 7643 §2.1), booleans as booleans (Entra ID sends "True"/"False"
 * strings), extension attributes under their schema URN, unassigned attributes absent. Request
 * bodies are first put in that form (`canonicalResource`), which drops what Tenet does not keep
 * (`password`, `title`, `phoneNumbers`, ... — RFC 7644 §3.3 lets a service provider ignore them)
 * and read-only attributes (`id`, `meta`, `groups`: RFC 7644 §3.5.1 says they are ignored).
 *
 * `active` is "not suspended": false suspends the account (deprovisioning), true reactivates it.
 * An invited user (no credential yet) is active in SCIM's sense.
 */
import type { Group, User } from "../../identity/accounts/types.js";
import { invalidSyntax, invalidValue } from "./errors.js";
import { etag } from "./etag.js";
import { type AttributeDef, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, type ResolvedAttribute, type ResourceSchema, USER_SCHEMA, findExtension, findIn, resolveAttribute, splitUrn } from "./schemas.js";

export type Json = Record<string, unknown>;

/** Values of one multi-valued attribute in a request (group members, mostly). */
export const MAX_VALUES = 10_000;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

// ---- request bodies → canonical form ----

function simpleValue(def: AttributeDef, v: unknown, where: string): unknown {
  if (v === null || v === undefined) return undefined;
  if (def.type === "boolean") {
    if (typeof v === "boolean") return v;
    if (typeof v === "string" && /^\s*(true|false)\s*$/i.test(v)) return v.trim().toLowerCase() === "true";
    throw invalidValue(`${where} must be true or false`);
  }
  if (typeof v !== "string") throw invalidValue(`${where} must be a string`);
  return v;
}

function singleValue(def: AttributeDef, v: unknown, where: string, input: boolean): unknown {
  if (v === null || v === undefined) return undefined;
  if (def.type !== "complex") return simpleValue(def, v, where);
  // `"manager": "id"` (Entra ID) for `"manager": {"value": "id"}`.
  if (typeof v === "string" && findIn(def.subAttributes, "value")) return v === "" ? undefined : { value: v };
  if (!isObject(v)) throw invalidValue(`${where} must be an object`);
  const out: Json = {};
  for (const [k, x] of Object.entries(v)) {
    const sub = findIn(def.subAttributes, k);
    if (!sub || (input && sub.mutability === "readOnly")) continue;
    const cv = simpleValue(sub, x, `${where}.${sub.name}`);
    if (cv !== undefined) out[sub.name] = cv;
  }
  return out;
}

/**
 * One attribute's value in canonical form; undefined means unassigned. `input`: drop read-only
 * sub-attributes (values a client sent back to us).
 */
export function canonicalValue(def: AttributeDef, v: unknown, input = true): unknown {
  if (v === null || v === undefined) return undefined;
  if (def.multiValued) {
    const values = Array.isArray(v) ? v : [v];
    if (values.length > MAX_VALUES) throw invalidValue(`${def.name} has more than ${MAX_VALUES} values`);
    return values.map((x, i) => singleValue(def, x, `${def.name}[${i}]`, input)).filter((x) => x !== undefined);
  }
  // A single value wrapped in an array (`"manager": [{"value": "id"}]`).
  if (Array.isArray(v)) {
    if (v.length > 1) throw invalidValue(`${def.name} takes one value`);
    return singleValue(def, v[0], def.name, input);
  }
  return singleValue(def, v, def.name, input);
}

function canonicalAttributes(defs: readonly AttributeDef[], body: Json, out: Json): void {
  for (const [k, v] of Object.entries(body)) {
    const def = findIn(defs, k);
    if (!def || def.mutability === "readOnly") continue;
    const cv = canonicalValue(def, v);
    if (cv !== undefined) out[def.name] = cv;
  }
}

/** A POST or PUT body in canonical form (unknown and read-only attributes dropped). */
export function canonicalResource(rs: ResourceSchema, body: unknown): Json {
  if (!isObject(body)) throw invalidSyntax(`the body must be a ${rs.name} resource (a JSON object)`);
  const schemas = body.schemas ?? body.Schemas;
  if (schemas !== undefined && (!Array.isArray(schemas) || !schemas.some((s) => typeof s === "string" && s.toLowerCase() === rs.core.toLowerCase()))) {
    throw invalidValue(`schemas must include ${rs.core}`);
  }
  const out: Json = {};
  const core: Json = {};
  for (const [k, v] of Object.entries(body)) {
    const ext = findExtension(rs, k);
    if (ext) {
      if (!isObject(v)) throw invalidValue(`${ext} must be an object`);
      const e: Json = {};
      canonicalAttributes(rs.extensions.find((x) => x.schema === ext)!.attributes, v, e);
      if (Object.keys(e).length > 0) out[ext] = e;
    } else {
      core[k] = v;
    }
  }
  canonicalAttributes(rs.attributes, core, out);
  return out;
}

// ---- Tenet → SCIM ----

/** Where resources live: `https://host/scim/v2`. */
export interface Links {
  base: string;
}

function meta(resourceType: "User" | "Group", r: { id: string; createdAt: string; updatedAt: string; version: number }, links: Links) {
  return {
    resourceType,
    created: r.createdAt,
    lastModified: r.updatedAt,
    location: `${links.base}/${resourceType}s/${encodeURIComponent(r.id)}`,
    version: etag(r.version),
  };
}

/** The SCIM User; `groups` are the user's groups (id and name) as the caller resolved them. */
export function userResource(u: User, links: Links, groups: ReadonlyArray<{ id: string; name: string }>): Json {
  const r: Json = { schemas: u.managerId ? [USER_SCHEMA, ENTERPRISE_USER_SCHEMA] : [USER_SCHEMA], id: u.id };
  if (u.externalId !== undefined) r.externalId = u.externalId;
  r.userName = u.username;
  if (u.givenName !== undefined || u.familyName !== undefined) {
    const name: Json = {};
    const formatted = [u.givenName, u.familyName].filter((x) => x !== undefined).join(" ");
    if (formatted) name.formatted = formatted;
    if (u.familyName !== undefined) name.familyName = u.familyName;
    if (u.givenName !== undefined) name.givenName = u.givenName;
    r.name = name;
  }
  if (u.displayName !== undefined) r.displayName = u.displayName;
  r.active = u.status !== "suspended";
  if (u.email !== undefined) r.emails = [{ value: u.email, type: "work", primary: true }];
  if (groups.length > 0) {
    r.groups = groups.map((g) => ({ value: g.id, $ref: `${links.base}/Groups/${encodeURIComponent(g.id)}`, display: g.name, type: "direct" }));
  }
  if (u.managerId) r[ENTERPRISE_USER_SCHEMA] = { manager: { value: u.managerId, $ref: `${links.base}/Users/${encodeURIComponent(u.managerId)}` } };
  r.meta = meta("User", u, links);
  return r;
}

/**
 * The SCIM Group; `members` carries the display names the caller resolved (undefined: leave the
 * members out, for `excludedAttributes=members`).
 */
export function groupResource(g: Group, links: Links, members: ReadonlyArray<{ id: string; display?: string | undefined }> | undefined): Json {
  const r: Json = { schemas: [GROUP_SCHEMA], id: g.id };
  if (g.externalId !== undefined) r.externalId = g.externalId;
  r.displayName = g.name;
  if (members && members.length > 0) {
    r.members = members.map((m) => ({
      value: m.id,
      $ref: `${links.base}/Users/${encodeURIComponent(m.id)}`,
      ...(m.display !== undefined ? { display: m.display } : {}),
      type: "User",
    }));
  }
  r.meta = meta("Group", g, links);
  return r;
}

// ---- canonical SCIM → Tenet ----

export interface UserFields {
  userName: string | undefined;
  externalId?: string | undefined;
  displayName?: string | undefined;
  givenName?: string | undefined;
  familyName?: string | undefined;
  email?: string | undefined;
  active?: boolean | undefined;
  managerId?: string | undefined;
}

/** Tenet keeps one address: the primary one, else the work one, else the first. */
function pickEmail(emails: unknown): string | undefined {
  if (!Array.isArray(emails)) return undefined;
  const withValue = emails.filter((e): e is Json => isObject(e) && typeof e.value === "string" && e.value !== "");
  const chosen = withValue.find((e) => e.primary === true) ?? withValue.find((e) => typeof e.type === "string" && e.type.toLowerCase() === "work") ?? withValue[0];
  return chosen?.value as string | undefined;
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

export function userFields(r: Json): UserFields {
  const name = isObject(r.name) ? r.name : {};
  const ext = r[ENTERPRISE_USER_SCHEMA];
  const manager = isObject(ext) && isObject(ext.manager) ? str(ext.manager.value) : undefined;
  return {
    userName: str(r.userName),
    externalId: str(r.externalId),
    displayName: str(r.displayName),
    givenName: str(name.givenName),
    familyName: str(name.familyName),
    email: pickEmail(r.emails),
    active: typeof r.active === "boolean" ? r.active : undefined,
    managerId: manager === "" ? undefined : manager,
  };
}

export interface GroupFields {
  displayName: string | undefined;
  externalId?: string | undefined;
  /** Member ids; undefined when the resource has no `members` attribute. */
  members?: string[] | undefined;
}

export function groupFields(r: Json): GroupFields {
  let members: string[] | undefined;
  if (Array.isArray(r.members)) {
    members = [];
    for (const m of r.members) {
      const v = isObject(m) ? m.value : undefined;
      if (typeof v !== "string" || v === "") throw invalidValue("every member needs a value (the user's id)");
      if (isObject(m) && typeof m.type === "string" && m.type.toLowerCase() === "group") throw invalidValue(`member ${v} is a group: Tenet groups have users only`);
      members.push(v);
    }
  }
  return { displayName: str(r.displayName), externalId: str(r.externalId), members };
}

// ---- attributes / excludedAttributes (RFC 7644 §3.4.2.5) ----

interface Selected {
  attr: ResolvedAttribute;
  sub?: AttributeDef | undefined;
}

export interface Projection {
  /** Only these (plus `id` and `schemas`, which are always returned). */
  attributes?: Selected[] | undefined;
  excluded?: Selected[] | undefined;
}

function selection(rs: ResourceSchema, text: string): Selected[] {
  if (text.length > 2048) throw invalidValue("attribute lists are limited to 2048 characters");
  const out: Selected[] = [];
  for (const item of text.split(",")) {
    const { schema, rest } = splitUrn(rs, item.trim());
    const [name, subName, more] = rest.split(".");
    if (!name || more !== undefined) continue;
    const attr = resolveAttribute(rs, schema, name);
    if (!attr) continue; // RFC 7644 §3.4.2.5 names attributes to return; unknown ones simply are not.
    const sub = subName !== undefined ? findIn(attr.def.subAttributes, subName) : undefined;
    if (subName !== undefined && !sub) continue;
    out.push({ attr, sub });
  }
  return out;
}

export function parseProjection(rs: ResourceSchema, attributes: unknown, excluded: unknown): Projection {
  const p: Projection = {};
  if (typeof attributes === "string" && attributes.trim() !== "") p.attributes = selection(rs, attributes);
  else if (typeof excluded === "string" && excluded.trim() !== "") p.excluded = selection(rs, excluded);
  return p;
}

/** Whether the projection returns the top-level attribute `name` (to skip work for it). */
export function returns(p: Projection, name: string): boolean {
  if (p.attributes) return p.attributes.some((s) => !s.attr.extension && s.attr.def.name === name);
  if (p.excluded) return !p.excluded.some((s) => !s.attr.extension && s.attr.def.name === name && !s.sub);
  return true;
}

const ALWAYS = new Set(["id", "schemas"]);

function containerOf(r: Json, attr: ResolvedAttribute, create: boolean): Json | undefined {
  if (!attr.extension) return r;
  const c = r[attr.extension];
  if (isObject(c)) return c;
  if (!create) return undefined;
  const fresh: Json = {};
  r[attr.extension] = fresh;
  return fresh;
}

function pickSub(v: unknown, sub: AttributeDef, keep: boolean): unknown {
  const one = (x: unknown) => {
    if (!isObject(x)) return x;
    if (keep) return sub.name in x ? { [sub.name]: x[sub.name] } : {};
    const { [sub.name]: _drop, ...rest } = x;
    return rest;
  };
  return Array.isArray(v) ? v.map(one) : one(v);
}

export function project(r: Json, p: Projection): Json {
  if (p.attributes) {
    const out: Json = {};
    for (const k of Object.keys(r)) if (ALWAYS.has(k)) out[k] = r[k];
    for (const s of p.attributes) {
      const from = containerOf(r, s.attr, false);
      const v = from?.[s.attr.def.name];
      if (v === undefined) continue;
      const to = containerOf(out, s.attr, true)!;
      const picked = s.sub ? pickSub(v, s.sub, true) : v;
      const prev = to[s.attr.def.name];
      // `name.givenName,name.familyName`: merge the picked sub-attributes.
      to[s.attr.def.name] = s.sub && isObject(prev) && isObject(picked) ? { ...prev, ...picked } : picked;
    }
    return out;
  }
  if (p.excluded) {
    const out: Json = { ...r };
    for (const s of p.excluded) {
      if (!s.attr.extension && ALWAYS.has(s.attr.def.name)) continue;
      if (s.attr.extension && isObject(out[s.attr.extension])) out[s.attr.extension] = { ...(out[s.attr.extension] as Json) };
      const c = containerOf(out, s.attr, false);
      if (!c || c[s.attr.def.name] === undefined) continue;
      if (s.sub) c[s.attr.def.name] = pickSub(c[s.attr.def.name], s.sub, false);
      else delete c[s.attr.def.name];
    }
    return out;
  }
  return r;
}
