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
  if (typeof input !== "string" && JSON.stringify(value).length > MAX_MODEL_BYTES) {
    throw new TenetError("invalid_model", `model is larger than ${MAX_MODEL_BYTES} bytes`);
  }
  const m = value as Partial<AuthorizationModel>;
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
