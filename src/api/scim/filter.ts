/**
 * SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2), for what identity providers send:
 * `userName eq "x"`, `externalId eq "x"`, `id eq "x"`, `displayName eq "x"`, `emails.value eq "x"`,
 * `emails[type eq "work"].value eq "x"` (Entra ID's form, outside the RFC grammar),
 * `emails[type eq "work" and value eq "x"]`, `members[value eq "x"]`, joined with `and`. Other
 * operators, `or`, `not` and grouping are refused with `invalidFilter` rather than half-supported.
 *
 * The input is bounded and read once, left to right, by a tokenizer and a recursive-descent parser
 * without backtracking or regular expressions over the whole text, so no input can make it slow.
 * Attributes are checked against the resource type's schema: an unknown one is an error in a
 * filter, and an attribute Tenet does not keep in a PATCH path (an Entra mapping of `title`, say)
 * makes the operation a no-op.
 */
import { ScimError, invalidFilter, invalidPath } from "./errors.js";
import { type AttributeDef, type ResolvedAttribute, type ResourceSchema, findIn, resolveAttribute, splitUrn } from "./schemas.js";

export const MAX_FILTER_LENGTH = 1024;
export const MAX_PATH_LENGTH = 512;
/** Conditions joined by `and`, in a filter or inside brackets. */
export const MAX_TERMS = 16;

export type Literal = string | number | boolean | null;

/** `sub eq value` inside brackets: one element of a multi-valued attribute must satisfy them all. */
export interface ElementTest {
  sub: AttributeDef;
  value: Literal;
}

/** One `eq` comparison (or a bare value path); a filter is their conjunction. */
export interface Condition {
  attr: ResolvedAttribute;
  where: ElementTest[];
  sub?: AttributeDef | undefined;
  /** Undefined only for a bare value path (`emails[type eq "work"]`). */
  value?: Literal | undefined;
}

export type Filter = Condition[];

export type PatchPath =
  /** An attribute (or schema) Tenet does not keep: the operation changes nothing. */
  | { kind: "unknown" }
  /** A whole extension object (`urn:...:enterprise:2.0:User`). */
  | { kind: "extension"; extension: string }
  | { kind: "attribute"; attr: ResolvedAttribute; where?: ElementTest[] | undefined; sub?: AttributeDef | undefined };

// ---- tokens ----

interface Token {
  kind: "word" | "string" | "[" | "]" | "(" | ")";
  text: string;
  at: number;
}

function isWordChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x5f || c === 0x24 || c === 0x3a || c === 0x2e || c === 0x2d || c === 0x2b // _ $ : . - +
  );
}

function tokenize(s: string, fail: (m: string) => ScimError): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) {
      i++;
    } else if (c === 0x5b || c === 0x5d || c === 0x28 || c === 0x29) {
      out.push({ kind: s[i] as Token["kind"], text: s[i]!, at: i });
      i++;
    } else if (c === 0x22) {
      // A JSON string (RFC 7644 §3.4.2.2: "compValue = ... string (RFC 7159)").
      let j = i + 1;
      while (j < s.length && s.charCodeAt(j) !== 0x22) j += s.charCodeAt(j) === 0x5c ? 2 : 1;
      if (j >= s.length) throw fail(`unterminated string starting at position ${i + 1}`);
      let text: unknown;
      try {
        text = JSON.parse(s.slice(i, j + 1));
      } catch {
        throw fail(`invalid string at position ${i + 1}`);
      }
      out.push({ kind: "string", text: text as string, at: i });
      i = j + 1;
    } else if (isWordChar(c)) {
      let j = i;
      while (j < s.length && isWordChar(s.charCodeAt(j))) j++;
      out.push({ kind: "word", text: s.slice(i, j), at: i });
      i = j;
    } else {
      throw fail(`unexpected character '${s[i]}' at position ${i + 1}`);
    }
  }
  return out;
}

// ---- parser ----

const OPERATORS = new Set(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"]);
const NUMBER = /^-?\d{1,15}(\.\d{1,15})?$/;

function isAttrName(s: string): boolean {
  if (s.length === 0 || s.length > 64) return false;
  const first = s.charCodeAt(0);
  if (!((first >= 0x61 && first <= 0x7a) || (first >= 0x41 && first <= 0x5a) || first === 0x24)) return false;
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!(isWordChar(c) && c !== 0x3a && c !== 0x2e && c !== 0x2b)) return false;
  }
  return true;
}

class Parser {
  private i = 0;

  constructor(
    private readonly toks: Token[],
    private readonly rs: ResourceSchema,
    readonly fail: (m: string) => ScimError,
  ) {}

  end(): boolean {
    return this.i >= this.toks.length;
  }

  peek(): Token | undefined {
    return this.toks[this.i];
  }

  next(what: string): Token {
    const t = this.toks[this.i++];
    if (!t) throw this.fail(`expected ${what} at the end`);
    return t;
  }

  peekWord(word: string): boolean {
    const t = this.peek();
    return t?.kind === "word" && t.text.toLowerCase() === word;
  }

  expect(kind: Token["kind"]): Token {
    const t = this.next(`'${kind}'`);
    if (t.kind !== kind) throw this.fail(`expected '${kind}' at position ${t.at + 1}`);
    return t;
  }

  /** `eq` (the one operator supported), with a clear refusal of the others. */
  operator(): void {
    const t = this.next("an operator");
    const op = t.kind === "word" ? t.text.toLowerCase() : "";
    if (op === "eq") return;
    if (OPERATORS.has(op)) throw this.fail(`the operator '${op}' is not supported: only 'eq' (joined with 'and')`);
    throw this.fail(`expected an operator at position ${t.at + 1}`);
  }

  literal(target: AttributeDef): Literal {
    const t = this.next("a value");
    let v: Literal;
    if (t.kind === "string") v = t.text;
    else if (t.kind === "word" && /^(true|false|null)$/i.test(t.text)) v = t.text.toLowerCase() === "null" ? null : t.text.toLowerCase() === "true";
    else if (t.kind === "word" && NUMBER.test(t.text)) v = Number(t.text);
    else throw this.fail(`expected a value (a "string", true, false, null or a number) at position ${t.at + 1}`);
    if (v === null) return v;
    if (target.type === "boolean") {
      if (typeof v === "boolean") return v;
      if (typeof v === "string" && /^(true|false)$/i.test(v)) return v.toLowerCase() === "true";
      throw this.fail(`${target.name} is a boolean: compare it with true or false`);
    }
    if (typeof v !== "string") throw this.fail(`${target.name} is a string: compare it with a "quoted" value`);
    return v;
  }

  /** `sub eq value (and sub eq value)*` inside brackets. */
  elementTests(parent: AttributeDef, onUnknown: () => never): ElementTest[] {
    const tests: ElementTest[] = [];
    for (;;) {
      const t = this.next("a sub-attribute");
      if (t.kind !== "word" || !isAttrName(t.text)) throw this.fail(`expected a sub-attribute of ${parent.name} at position ${t.at + 1}`);
      const sub = findIn(parent.subAttributes, t.text) ?? onUnknown();
      this.operator();
      tests.push({ sub, value: this.literal(sub) });
      if (tests.length > MAX_TERMS) throw this.fail(`at most ${MAX_TERMS} conditions`);
      if (!this.peekWord("and")) return tests;
      this.i++;
    }
  }

  /** An attribute path `[urn:...:]attr[.sub]`; undefined when the schema or attribute is unknown. */
  attributePath(t: Token): { attr: ResolvedAttribute; sub: AttributeDef | undefined; subName: string | undefined } | { extension: string } | undefined {
    if (t.kind !== "word") throw this.fail(`expected an attribute name at position ${t.at + 1}`);
    const { schema, rest } = splitUrn(this.rs, t.text);
    if (schema !== undefined && rest === "") {
      const ext = this.rs.extensions.find((e) => e.schema === schema);
      if (ext) return { extension: ext.schema };
    }
    const parts = rest.split(".");
    if (parts.length > 2 || !parts.every(isAttrName)) throw this.fail(`'${t.text}' is not an attribute path`);
    const attr = resolveAttribute(this.rs, schema, parts[0]!);
    if (!attr) return undefined;
    if (parts.length === 1) return { attr, sub: undefined, subName: undefined };
    return { attr, sub: findIn(attr.def.subAttributes, parts[1]!), subName: parts[1] };
  }
}

/** Parses a `filter` query parameter against the resource type's schema. */
export function parseFilter(text: unknown, rs: ResourceSchema): Filter {
  if (typeof text !== "string" || text.trim() === "") throw invalidFilter("the filter is empty");
  if (text.length > MAX_FILTER_LENGTH) throw invalidFilter(`the filter is longer than ${MAX_FILTER_LENGTH} characters`);
  const p = new Parser(tokenize(text, invalidFilter), rs, invalidFilter);
  const filter: Filter = [condition(p, rs)];
  while (p.peekWord("and")) {
    p.next("and");
    filter.push(condition(p, rs));
    if (filter.length > MAX_TERMS) throw invalidFilter(`at most ${MAX_TERMS} conditions`);
  }
  const t = p.peek();
  if (t) {
    const w = t.text.toLowerCase();
    if (w === "or" || w === "not") throw invalidFilter(`'${w}' is not supported: only 'and'`);
    throw invalidFilter(`unexpected '${t.text}' at position ${t.at + 1}`);
  }
  return filter;
}

function condition(p: Parser, rs: ResourceSchema): Condition {
  const t = p.next("an attribute");
  if (t.kind === "(") throw invalidFilter("grouping with parentheses is not supported");
  if (t.kind === "word" && t.text.toLowerCase() === "not") throw invalidFilter("'not' is not supported");
  const path = p.attributePath(t);
  if (!path || "extension" in path) throw invalidFilter(`unknown attribute '${t.text}' for ${rs.name} resources`);
  const { attr } = path;
  if (path.subName !== undefined && !path.sub) throw invalidFilter(`unknown attribute '${t.text}' for ${rs.name} resources`);
  let sub = path.sub;
  let where: ElementTest[] = [];
  if (p.peek()?.kind === "[") {
    if (sub || attr.def.type !== "complex" || !attr.def.multiValued) throw invalidFilter(`'${t.text}' is not a multi-valued attribute; brackets select its values`);
    p.next("[");
    where = p.elementTests(attr.def, () => {
      throw invalidFilter(`unknown sub-attribute in the filter of ${attr.def.name}`);
    });
    p.expect("]");
    const after = p.peek();
    // Entra ID's `emails[type eq "work"].value eq "x"`: the same as `emails[type eq "work" and value eq "x"]`.
    if (after?.kind === "word" && after.text.startsWith(".")) {
      p.next("a sub-attribute");
      sub = findIn(attr.def.subAttributes, after.text.slice(1));
      if (!sub) throw invalidFilter(`unknown sub-attribute '${after.text.slice(1)}' of ${attr.def.name}`);
    } else {
      return { attr, where };
    }
  }
  // RFC 7644 §3.4.2.2: a complex attribute without a sub-attribute compares its "value".
  if (!sub && attr.def.type === "complex") {
    sub = findIn(attr.def.subAttributes, "value");
    if (!sub) throw invalidFilter(`'${t.text}' is complex: name one of its sub-attributes`);
  }
  p.operator();
  const value = p.literal(sub ?? attr.def);
  return { attr, where, sub, value };
}

/**
 * Parses a PATCH `path` (RFC 7644 §3.5.2: `attrPath` or `valuePath[.subAttr]`, optionally
 * prefixed by a schema URN).
 */
export function parsePath(text: unknown, rs: ResourceSchema): PatchPath {
  if (typeof text !== "string" || text.trim() === "") throw invalidPath("the path is empty");
  if (text.length > MAX_PATH_LENGTH) throw invalidPath(`the path is longer than ${MAX_PATH_LENGTH} characters`);
  const p = new Parser(tokenize(text, invalidPath), rs, invalidPath);
  const t = p.next("an attribute");
  const path = p.attributePath(t);
  let unknown = !path;
  let result: PatchPath = { kind: "unknown" };
  if (path && "extension" in path) {
    result = { kind: "extension", extension: path.extension };
  } else if (path) {
    if (path.subName !== undefined && !path.sub) unknown = true;
    result = { kind: "attribute", attr: path.attr, sub: path.sub };
  }
  if (p.peek()?.kind === "[") {
    p.next("[");
    if (result.kind !== "attribute" || result.sub || result.attr.def.type !== "complex" || !result.attr.def.multiValued) {
      if (!unknown) throw invalidPath(`'${t.text}' is not a multi-valued attribute; brackets select its values`);
    }
    // Unknown attributes are parsed through (for syntax errors) and then ignored.
    const parent = result.kind === "attribute" ? result.attr.def : undefined;
    const where = parent && !unknown ? p.elementTests(parent, () => {
      throw invalidPath(`unknown sub-attribute in the filter of ${parent.name}`);
    }) : skipBrackets(p);
    p.expect("]");
    let sub: AttributeDef | undefined;
    const after = p.peek();
    if (after?.kind === "word" && after.text.startsWith(".")) {
      p.next("a sub-attribute");
      const name = after.text.slice(1);
      if (!isAttrName(name)) throw invalidPath(`'${after.text}' is not a sub-attribute`);
      sub = parent ? findIn(parent.subAttributes, name) : undefined;
      if (!sub) unknown = true;
    }
    if (result.kind === "attribute") result = { kind: "attribute", attr: result.attr, where, sub };
  }
  if (!p.end()) throw invalidPath(`unexpected '${p.peek()!.text}' at position ${p.peek()!.at + 1}`);
  return unknown ? { kind: "unknown" } : result;
}

/** Consumes a bracketed filter of an attribute Tenet does not keep (it is not evaluated). */
function skipBrackets(p: Parser): ElementTest[] {
  let n = 0;
  while (p.peek() && p.peek()!.kind !== "]") {
    if (p.peek()!.kind === "[") throw invalidPath("nested brackets");
    p.next("]");
    if (++n > 4 * MAX_TERMS) throw invalidPath(`at most ${MAX_TERMS} conditions`);
  }
  return [];
}

// ---- evaluation against resources in canonical form (mapping.ts) ----

type Json = Record<string, unknown>;

/** Case folding for attributes that are not caseExact (as the directory's unique name keys). */
export function fold(s: string): string {
  return s.normalize("NFKC").toLowerCase();
}

export function equals(def: AttributeDef, actual: unknown, value: Literal): boolean {
  if (value === null) return actual === undefined || actual === null;
  if (typeof value === "string") return typeof actual === "string" && (def.caseExact ? actual === value : fold(actual) === fold(value));
  return actual === value;
}

function field(element: unknown, sub: AttributeDef): unknown {
  return typeof element === "object" && element !== null ? (element as Json)[sub.name] : undefined;
}

export function elementMatches(element: unknown, tests: readonly ElementTest[]): boolean {
  return tests.every((t) => equals(t.sub, field(element, t.sub), t.value));
}

export function attributeValue(resource: Json, attr: ResolvedAttribute): unknown {
  const container = attr.extension ? resource[attr.extension] : resource;
  return typeof container === "object" && container !== null ? (container as Json)[attr.def.name] : undefined;
}

export function matches(resource: Json, filter: Filter): boolean {
  return filter.every((c) => {
    const v = attributeValue(resource, c.attr);
    const { def } = c.attr;
    if (def.multiValued) {
      const elements = Array.isArray(v) ? v : [];
      return elements.some((e) => elementMatches(e, c.where) && (c.value === undefined || equals(c.sub ?? def, c.sub ? field(e, c.sub) : e, c.value)));
    }
    if (c.value === undefined) return false;
    return c.sub ? equals(c.sub, field(v, c.sub), c.value) : equals(def, v, c.value);
  });
}
