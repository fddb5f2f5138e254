/**
 * Turns OpenFGA DSL (schema 1.1) or its JSON form into a validated AuthorizationModel.
 * Syntax and the model's semantic rules (unknown types and relations, impossible relations,
 * tupleset rules, cycles without entry point) are checked by `@openfga/syntax-transformer`;
 * condition expressions and parameter types are compiled here (see typesystem.ts).
 */
import st from "@openfga/syntax-transformer";
import { TenetError, type ErrorDetail } from "../../errors.js";
import type { AuthorizationModel } from "./types.js";

/** OpenFGA's limit on a serialised model (256 KiB). */
export const MAX_MODEL_BYTES = 256 * 1024;

interface TransformerIssue {
  message?: string;
  msg?: string;
  line?: { start: number; end: number };
  column?: { start: number; end: number };
  metadata?: { symbol?: string; errorType?: string; relation?: string; typeName?: string };
}

function detailsOf(err: unknown): ErrorDetail[] {
  const issues = (err as { errors?: TransformerIssue[] }).errors;
  if (!Array.isArray(issues)) return [{ message: err instanceof Error ? err.message : String(err) }];
  return issues.map((i) => {
    const where: string[] = [];
    if (i.line) where.push(`line ${i.line.start + 1}`);
    if (i.column) where.push(`column ${i.column.start}`);
    if (i.metadata?.typeName) where.push(`type ${i.metadata.typeName}`);
    if (i.metadata?.relation) where.push(`relation ${i.metadata.relation}`);
    const message = (i.msg ?? i.message ?? "invalid model").trim();
    return where.length ? { where: where.join(", "), message } : { message };
  });
}

function fail(kind: "invalid_dsl" | "invalid_model", err: unknown): never {
  // A file that is not a model at all yields hundreds of token errors: report the first few.
  const all = detailsOf(err);
  const details = all.slice(0, 20);
  const shown = all.slice(0, 5).map((d) => (d.where ? `${d.where}: ${d.message}` : d.message));
  const summary = shown.join("; ") + (all.length > shown.length ? `; and ${all.length - shown.length} more` : "");
  throw new TenetError(kind, `${kind === "invalid_dsl" ? "invalid model DSL" : "invalid model"}: ${summary}`, {
    cause: err,
    details,
  });
}

/** Parses DSL text into the JSON model, validating syntax and semantics. */
export function parseDsl(dsl: string): AuthorizationModel {
  if (typeof dsl !== "string" || dsl.trim() === "") throw new TenetError("invalid_dsl", "model DSL is empty");
  if (Buffer.byteLength(dsl) > MAX_MODEL_BYTES) {
    throw new TenetError("invalid_model", `model is larger than ${MAX_MODEL_BYTES} bytes`);
  }
  try {
    st.validator.validateDSL(dsl);
  } catch (err) {
    if (!isTransformerBug(err)) {
      fail((err as Error)?.name === "DSLSyntaxError" || /syntax/i.test(String((err as Error)?.message)) ? "invalid_dsl" : "invalid_model", err);
    }
    // Fall through: the JSON is validated below without the construct that trips the validator.
  }
  let model: AuthorizationModel;
  try {
    model = st.transformer.transformDSLToJSONObject(dsl) as unknown as AuthorizationModel;
  } catch (err) {
    fail("invalid_dsl", err);
  }
  validateJsonModel(model);
  return model;
}

/**
 * The transformer's validator (0.2.2) crashes with a TypeError on a tupleset relation whose type
 * restriction carries a condition (`define parent: [folder with cond]`). Conditions do not
 * change which relations have an entry point, so such models are validated with conditions
 * stripped from type restrictions; TypeSystem checks the condition references itself.
 */
function isTransformerBug(err: unknown): boolean {
  return err instanceof TypeError;
}

function withoutRestrictionConditions(model: AuthorizationModel): AuthorizationModel {
  const copy = structuredClone(model);
  delete copy.conditions;
  for (const td of copy.type_definitions) {
    for (const meta of Object.values(td.metadata?.relations ?? {})) {
      for (const ref of meta.directly_related_user_types ?? []) delete ref.condition;
    }
  }
  return copy;
}

function validateJsonModel(model: AuthorizationModel): void {
  try {
    st.validator.validateJSON(model as never);
  } catch (err) {
    if (!isTransformerBug(err)) fail("invalid_model", err);
    try {
      st.validator.validateJSON(withoutRestrictionConditions(model) as never);
    } catch (err2) {
      fail("invalid_model", err2);
    }
  }
}

/** Validates a model given in JSON form (an object or a JSON string). */
export function parseJson(input: unknown): AuthorizationModel {
  let value = input;
  if (typeof input === "string") {
    if (Buffer.byteLength(input) > MAX_MODEL_BYTES) {
      throw new TenetError("invalid_model", `model is larger than ${MAX_MODEL_BYTES} bytes`);
    }
    try {
      value = JSON.parse(input);
    } catch (err) {
      throw new TenetError("invalid_model", `model is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TenetError("invalid_model", "model must be a JSON object with schema_version and type_definitions");
  }
  if (typeof input !== "string") {
    let size: number;
    try {
      size = JSON.stringify(value).length;
    } catch {
      throw new TenetError("invalid_model", "model must be plain JSON of reasonable depth");
    }
    if (size > MAX_MODEL_BYTES) throw new TenetError("invalid_model", `model is larger than ${MAX_MODEL_BYTES} bytes`);
  }
  const m = value as Partial<AuthorizationModel> & Record<string, unknown>;
  if (m.schema_version !== "1.1") {
    throw new TenetError("invalid_model", `unsupported schema_version ${JSON.stringify(m.schema_version)}: only 1.1 is supported`);
  }
  if (!Array.isArray(m.type_definitions)) {
    throw new TenetError("invalid_model", "model.type_definitions must be an array");
  }
  m.type_definitions.forEach((td, i) => {
    if (typeof td !== "object" || td === null || typeof td.type !== "string" || !/^[^:#@\s*]{1,254}$/.test(td.type)) {
      throw new TenetError("invalid_model", `type_definitions[${i}].type must be a type name`, { details: [{ where: `type_definitions[${i}]`, message: "type must be a non-empty name" }] });
    }
    if (td.relations !== undefined && (typeof td.relations !== "object" || td.relations === null || Array.isArray(td.relations))) {
      throw new TenetError("invalid_model", `type '${td.type}': relations must be an object`);
    }
  });
  checkKnownKeys(m);
  const model: AuthorizationModel = {
    schema_version: "1.1",
    type_definitions: m.type_definitions,
    ...(m.conditions ? { conditions: m.conditions } : {}),
  };
  validateJsonModel(model);
  return model;
}

/** Accepts DSL text, JSON text or a JSON object. */
export function parseModel(input: unknown): AuthorizationModel {
  if (typeof input === "string") {
    const trimmed = input.trimStart();
    return trimmed.startsWith("{") ? parseJson(input) : parseDsl(input);
  }
  return parseJson(input);
}

/**
 * The JSON model is checked strictly: a key OpenFGA does not define (usually a typo such as
 * `computed_userset`) is an error, not silently stored.
 */
const TYPE_KEYS = new Set(["type", "relations", "metadata"]);
const TYPE_META_KEYS = new Set(["relations", "module", "source_info"]);
const REL_META_KEYS = new Set(["directly_related_user_types", "module", "source_info"]);
const REF_KEYS = new Set(["type", "relation", "wildcard", "condition"]);
const USERSET_KEYS = new Set(["this", "computedUserset", "tupleToUserset", "union", "intersection", "difference"]);

function unknownKeys(obj: unknown, allowed: Set<string>, where: string, out: string[]): void {
  if (typeof obj !== "object" || obj === null) return;
  for (const k of Object.keys(obj)) if (!allowed.has(k)) out.push(`${where}: unknown field '${k}'`);
}

function checkUserset(u: unknown, where: string, out: string[], depth = 0): void {
  if (typeof u !== "object" || u === null || depth > 50) return;
  unknownKeys(u, USERSET_KEYS, where, out);
  const x = u as Record<string, { child?: unknown[]; base?: unknown; subtract?: unknown }>;
  for (const c of x.union?.child ?? []) checkUserset(c, where, out, depth + 1);
  for (const c of x.intersection?.child ?? []) checkUserset(c, where, out, depth + 1);
  if (x.difference) {
    checkUserset(x.difference.base, where, out, depth + 1);
    checkUserset(x.difference.subtract, where, out, depth + 1);
  }
}

function checkKnownKeys(m: Partial<AuthorizationModel> & Record<string, unknown>): void {
  const out: string[] = [];
  unknownKeys(m, new Set(["schema_version", "type_definitions", "conditions", "id"]), "model", out);
  for (const td of m.type_definitions ?? []) {
    const t = (td as { type?: string }).type;
    unknownKeys(td, TYPE_KEYS, `type ${t}`, out);
    for (const [r, u] of Object.entries(td.relations ?? {})) checkUserset(u, `${t}#${r}`, out);
    if (td.metadata) {
      unknownKeys(td.metadata, TYPE_META_KEYS, `type ${t} metadata`, out);
      for (const [r, meta] of Object.entries(td.metadata.relations ?? {})) {
        unknownKeys(meta, REL_META_KEYS, `${t}#${r} metadata`, out);
        for (const ref of meta?.directly_related_user_types ?? []) unknownKeys(ref, REF_KEYS, `${t}#${r} type restriction`, out);
      }
    }
  }
  if (out.length) {
    throw new TenetError("invalid_model", `invalid model: ${out.slice(0, 5).join("; ")}${out.length > 5 ? `; and ${out.length - 5} more` : ""}`, {
      details: out.slice(0, 20).map((message) => ({ message })),
    });
  }
}
