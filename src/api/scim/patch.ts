/**
 * SCIM PATCH (RFC 7644 §3.5.2) applied to a resource in canonical form (mapping.ts). The result
 * is a whole resource, which the caller stores as a PUT of it would be; so PATCH and PUT share one
 * path into the directory, and an invalid PATCH changes nothing.
 *
 * Besides the RFC's forms, what identity providers actually send:
 * - Okta: `{"op":"replace","value":{"active":false}}` (no path: a map of attributes), group
 *   renames as `{"op":"replace","value":{"id":"...","displayName":"..."}}` (the read-only `id`
 *   is ignored, as in a PUT), member removal as `{"op":"remove","path":"members[value eq \"id\"]"}`.
 * - Entra ID: capitalised ops (`"Replace"`), booleans as strings (`"False"`),
 *   `{"op":"Add","path":"emails[type eq \"work\"].value","value":"x"}` creating the address when
 *   there is none, `{"op":"Remove","path":"members","value":[{"value":"id"}]}` removing only the
 *   listed members (the RFC would remove them all), and the manager as a bare id string.
 * - Keys of a no-path value that are paths themselves (`"name.givenName"`, a URN-qualified name).
 */
import { ScimError, invalidSyntax, invalidValue } from "./errors.js";
import { type ElementTest, type PatchPath, elementMatches, equals, parsePath } from "./filter.js";
import { type Json, canonicalValue } from "./mapping.js";
import { PATCH_OP_SCHEMA, type AttributeDef, type ResourceSchema, findIn } from "./schemas.js";

export const MAX_OPERATIONS = 1000;

export interface PatchOperation {
  op: "add" | "replace" | "remove";
  path: PatchPath | undefined;
  value: unknown;
}

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Property names of the PatchOp message, whatever their case (`Operations`, `operations`). */
function prop(o: Json, name: string): unknown {
  if (name in o) return o[name];
  const k = Object.keys(o).find((x) => x.toLowerCase() === name.toLowerCase());
  return k === undefined ? undefined : o[k];
}

/** Reads and checks a PatchOp request body; every path is parsed before anything is applied. */
export function parsePatch(body: unknown, rs: ResourceSchema): PatchOperation[] {
  if (!isObject(body)) throw invalidSyntax("the body must be a PatchOp message (a JSON object)");
  const schemas = prop(body, "schemas");
  if (schemas !== undefined && (!Array.isArray(schemas) || !schemas.some((s) => typeof s === "string" && s.toLowerCase() === PATCH_OP_SCHEMA.toLowerCase()))) {
    throw invalidSyntax(`schemas must be ["${PATCH_OP_SCHEMA}"]`);
  }
  const ops = prop(body, "Operations");
  if (!Array.isArray(ops) || ops.length === 0) throw invalidSyntax("Operations must be a non-empty array");
  if (ops.length > MAX_OPERATIONS) throw invalidSyntax(`at most ${MAX_OPERATIONS} operations per request`);
  return ops.map((o, i): PatchOperation => {
    if (!isObject(o)) throw invalidSyntax(`Operations[${i}] must be an object`);
    const opName = prop(o, "op");
    const op = typeof opName === "string" ? opName.toLowerCase() : "";
    if (op !== "add" && op !== "replace" && op !== "remove") throw invalidSyntax(`Operations[${i}].op must be add, replace or remove`);
    const rawPath = prop(o, "path");
    if (rawPath !== undefined && rawPath !== null && typeof rawPath !== "string") throw new ScimError(400, "invalidPath", `Operations[${i}].path must be a string`);
    const path = typeof rawPath === "string" && rawPath.trim() !== "" ? parsePath(rawPath, rs) : undefined;
    const value = prop(o, "value");
    // RFC 7644 §3.5.2.2: remove without a path fails with noTarget.
    if (op === "remove" && !path) throw new ScimError(400, "noTarget", `Operations[${i}]: remove needs a path`);
    if (op !== "remove" && value === undefined) throw invalidSyntax(`Operations[${i}]: ${op} needs a value`);
    return { op, path, value };
  });
}

/** Applies the operations to a copy of `resource`; throws (changing nothing) on the first bad one. */
export function applyPatch(resource: Json, ops: readonly PatchOperation[], rs: ResourceSchema): Json {
  const r = structuredClone(resource);
  for (const o of ops) {
    if (o.path) {
      applyAt(r, o.op, o.path, o.value, rs, false);
      continue;
    }
    // No path: the value is a map of attributes to add or replace (RFC 7644 §3.5.2.1, §3.5.2.3).
    if (!isObject(o.value)) throw invalidValue(`${o.op} without a path needs an object of attributes as its value`);
    for (const [k, v] of Object.entries(o.value)) {
      if (k.toLowerCase() === "schemas") continue;
      applyAt(r, o.op, parsePath(k, rs), v, rs, true);
    }
  }
  for (const ext of rs.extensions) {
    const e = r[ext.schema];
    if (e !== undefined && (!isObject(e) || Object.keys(e).length === 0)) delete r[ext.schema];
  }
  return r;
}

function container(r: Json, extension: string | undefined, create: boolean): Json | undefined {
  if (!extension) return r;
  const c = r[extension];
  if (isObject(c)) return c;
  if (!create) return undefined;
  const fresh: Json = {};
  r[extension] = fresh;
  return fresh;
}

/** Two values of a multi-valued attribute are the same value when their `value`s are. */
function sameValue(def: AttributeDef, a: unknown, b: unknown): boolean {
  const v = findIn(def.subAttributes, "value");
  if (v && isObject(a) && isObject(b) && a.value !== undefined && b.value !== undefined) return equals(v, a.value, b.value as string);
  return JSON.stringify(a) === JSON.stringify(b);
}

/** RFC 7643 §2.4: at most one value is primary; the one just set wins. */
function onePrimary(def: AttributeDef, elements: unknown[], chosen: readonly unknown[]): void {
  if (!findIn(def.subAttributes, "primary")) return;
  if (!chosen.some((c) => isObject(c) && c.primary === true)) return;
  for (const e of elements) if (isObject(e) && e.primary === true && !chosen.includes(e)) e.primary = false;
}

function subValue(sub: AttributeDef, value: unknown): unknown {
  // A sub-attribute is a single simple value; a lone value in an array is accepted.
  const v = Array.isArray(value) && value.length === 1 ? value[0] : value;
  return canonicalValue({ ...sub, multiValued: false }, v);
}

function setOrDelete(o: Json, key: string, v: unknown): void {
  if (v === undefined) delete o[key];
  else o[key] = v;
}

function tidy(c: Json, name: string): void {
  const v = c[name];
  if ((Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0)) delete c[name];
}

function applyAt(r: Json, op: PatchOperation["op"], path: PatchPath, value: unknown, rs: ResourceSchema, inValueMap: boolean): void {
  if (path.kind === "unknown") return;
  if (path.kind === "extension") {
    if (op === "remove") {
      delete r[path.extension];
      return;
    }
    if (!isObject(value)) throw invalidValue(`${path.extension} must be an object`);
    const defs = rs.extensions.find((e) => e.schema === path.extension)!.attributes;
    for (const [k, v] of Object.entries(value)) {
      const def = findIn(defs, k);
      if (def) applyAt(r, op, { kind: "attribute", attr: { def, extension: path.extension } }, v, rs, true);
    }
    return;
  }
  const { attr, where, sub } = path;
  const def = attr.def;
  if (def.mutability === "readOnly" || sub?.mutability === "readOnly") {
    // Read-only attributes in a value map are ignored, as in a PUT (RFC 7644 §3.5.1); a path
    // that targets one is refused (RFC 7644 §3.5.2).
    if (inValueMap) return;
    throw new ScimError(400, "mutability", `${def.name}${sub ? "." + sub.name : ""} is read-only`);
  }
  const c = container(r, attr.extension, op !== "remove");
  if (!c) return;
  const name = def.name;
  const current = c[name];
  const elements: unknown[] = Array.isArray(current) ? current : [];

  if (where) {
    applyValuePath(c, def, where, sub, op, value, elements);
  } else if (sub && def.multiValued) {
    // `emails.value`: every value's sub-attribute (or a first value, when there is none).
    if (op === "remove") {
      for (const e of elements) if (isObject(e)) delete e[sub.name];
    } else {
      const v = subValue(sub, value);
      if (elements.length === 0 && v !== undefined) c[name] = [{ [sub.name]: v }];
      for (const e of elements) if (isObject(e)) setOrDelete(e, sub.name, v);
    }
  } else if (sub) {
    const obj = isObject(current) ? current : {};
    setOrDelete(obj, sub.name, op === "remove" ? undefined : subValue(sub, value));
    c[name] = obj;
  } else if (op === "remove") {
    if (def.multiValued && value !== undefined && value !== null) {
      // Entra ID: remove with a value removes just those values.
      const gone = canonicalValue(def, value, false) as unknown[];
      c[name] = elements.filter((e) => !gone.some((g) => sameValue(def, e, g)));
    } else {
      delete c[name];
    }
  } else if (def.multiValued) {
    const incoming = (canonicalValue(def, value) ?? []) as unknown[];
    if (op === "add") {
      // RFC 7644 §3.5.2.1: values already present are not added again.
      const next = [...elements];
      for (const x of incoming) if (!next.some((e) => sameValue(def, e, x))) next.push(x);
      c[name] = next;
      onePrimary(def, next, incoming);
    } else {
      c[name] = incoming;
    }
  } else if (def.type === "complex") {
    // Sub-attributes given replace or add; the others are left as they are (§3.5.2.1, §3.5.2.3).
    const v = canonicalValue(def, value) as Json | undefined;
    if (v === undefined) delete c[name];
    else c[name] = { ...(isObject(current) ? current : {}), ...v };
  } else {
    setOrDelete(c, name, canonicalValue(def, value));
  }
  tidy(c, name);
}

/** `attr[filter]` or `attr[filter].sub` (RFC 7644 §3.5.2: valuePath). */
function applyValuePath(c: Json, def: AttributeDef, where: readonly ElementTest[], sub: AttributeDef | undefined, op: PatchOperation["op"], value: unknown, elements: unknown[]): void {
  const name = def.name;
  const hits = elements.filter((e) => elementMatches(e, where));
  if (op === "remove") {
    // Removing what is not there changes nothing (deprovisioning is retried by clients).
    if (sub) {
      for (const e of hits) if (isObject(e)) delete e[sub.name];
    } else {
      c[name] = elements.filter((e) => !hits.includes(e));
    }
    return;
  }
  if (hits.length === 0) {
    // Entra ID adds (and sometimes replaces) `emails[type eq "work"].value` on users who have no
    // such address: create the value the filter describes. A whole-value replace with nothing to
    // replace is RFC 7644 §3.5.2.3's noTarget.
    if (op === "replace" && !sub) throw new ScimError(400, "noTarget", `no value of ${name} matches the path's filter`);
    const el: Json = {};
    for (const t of where) if (t.value !== null) el[t.sub.name] = t.value;
    if (sub) setOrDelete(el, sub.name, subValue(sub, value));
    else Object.assign(el, canonicalValue({ ...def, multiValued: false }, Array.isArray(value) && value.length === 1 ? value[0] : value) as Json | undefined);
    elements.push(el);
    c[name] = elements;
    onePrimary(def, elements, [el]);
    return;
  }
  for (const e of hits) {
    if (!isObject(e)) continue;
    if (sub) {
      setOrDelete(e, sub.name, subValue(sub, value));
    } else {
      const v = (canonicalValue({ ...def, multiValued: false }, Array.isArray(value) && value.length === 1 ? value[0] : value) ?? {}) as Json;
      if (op === "replace") for (const k of Object.keys(e)) delete e[k];
      Object.assign(e, v);
    }
  }
  onePrimary(def, elements, hits);
}
