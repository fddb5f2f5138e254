/**
 * OpenFGA relationship conditions: a named CEL expression over typed parameters, compiled once
 * per authorization model and evaluated on the check hot path against the merged tuple/request
 * context.
 *
 * Semantics follow OpenFGA's `internal/condition`:
 * - compile = parse + type-check against the declared parameters; the expression must be `bool`;
 * - the tuple's context wins over the request's context for the same key; keys that are not
 *   declared parameters are ignored;
 * - a parameter the expression references but neither context provides is reported as
 *   `condition_missing_parameters` (OpenFGA's check turns its "missing parameters" result into
 *   an error too). Declared but unreferenced parameters may be absent.
 */
import { Environment, EvaluationError, type ASTNode, type ParseResult } from "@marcbachmann/cel-js";
import { TenetError } from "../../errors.js";
import { registerIpAddress } from "./ipaddress.js";
import { decodeParamType, ParamTypeError, type ConditionParamTypeJson, type ParamType } from "./param-types.js";

export type { ConditionParamTypeJson } from "./param-types.js";

export interface ConditionDefinitionJson {
  name: string;
  expression: string;
  parameters?: Record<string, ConditionParamTypeJson>;
  metadata?: unknown;
}

export type ContextValue = Record<string, unknown>;

export interface CompiledCondition {
  readonly name: string;
  readonly parameterNames: readonly string[];
  /**
   * tupleContext and requestContext are plain JSON objects (may be undefined). Returns the boolean result.
   * Context objects are treated as immutable: their converted values are cached per object.
   */
  evaluate(tupleContext: ContextValue | undefined, requestContext: ContextValue | undefined): boolean;
}

// Built once: environments are expensive. Each condition clones it (cheap) and adds its
// parameters; cloning also freezes this base so no condition can leak registrations into others.
// Heterogeneous list/map literals are allowed, as in cel-go's default (OpenFGA doesn't opt in).
const BASE_ENV = registerIpAddress(new Environment({ homogeneousAggregateLiterals: false }));

interface Param {
  readonly name: string;
  readonly type: ParamType;
}

/** Converted values of one context object; conversion errors are kept per key and only raised if that key is used. */
interface ConvertedContext {
  readonly values: Record<string, unknown>;
  readonly errors: Record<string, ParamTypeError> | undefined;
}

/** Compiles once (parse + type-check against the declared parameters). Throws TenetError("invalid_condition"). */
export function compileCondition(def: ConditionDefinitionJson): CompiledCondition {
  const name = def.name;
  const fail = (problem: string, cause?: unknown): TenetError =>
    new TenetError("invalid_condition", `invalid condition '${name}': ${problem}`, cause === undefined ? {} : { cause });

  if (typeof def.expression !== "string" || def.expression.trim() === "") throw fail("expression is empty");
  const env = BASE_ENV.clone();
  const params: Param[] = [];
  for (const [paramName, typeJson] of Object.entries(def.parameters ?? {})) {
    let type: ParamType;
    try {
      type = decodeParamType(typeJson);
    } catch (err) {
      throw fail(`failed to decode parameter type for parameter '${paramName}': ${errorText(err)}`, err);
    }
    try {
      env.registerVariable(paramName, type.celType);
    } catch (err) {
      throw fail(`invalid parameter name '${paramName}': ${errorText(err)}`, err);
    }
    params.push({ name: paramName, type });
  }

  let program: ParseResult;
  try {
    program = env.parse(def.expression);
  } catch (err) {
    throw fail(`syntax error: ${errorText(err)}`, err);
  }
  // check() also annotates the AST, so later evaluations skip the type checker.
  const checked = program.check();
  if (!checked.valid) throw fail(errorText(checked.error), checked.error);
  if (checked.type !== "bool") throw fail(`expected a bool condition expression output, but got '${checked.type ?? "unknown"}'`);

  const referenced = referencedParameters(program.ast, new Set(params.map((p) => p.name)));
  return new Compiled(name, params, referenced, program);
}

class Compiled implements CompiledCondition {
  readonly parameterNames: readonly string[];
  readonly #params: readonly Param[];
  readonly #referenced: ReadonlySet<string>;
  readonly #program: ParseResult;
  // Tuple contexts come from storage and request contexts are shared by every tuple a check
  // visits, so the same objects come back again and again: convert each only once.
  readonly #cache = new WeakMap<object, ConvertedContext>();

  constructor(readonly name: string, params: readonly Param[], referenced: ReadonlySet<string>, program: ParseResult) {
    this.#params = params;
    this.parameterNames = params.map((p) => p.name);
    this.#referenced = referenced;
    this.#program = program;
  }

  evaluate(tupleContext: ContextValue | undefined, requestContext: ContextValue | undefined): boolean {
    const tuple = this.#converted(tupleContext, "tuple");
    const request = this.#converted(requestContext, "request");
    // Null prototype: the library reads variables as `ctx[name]`, so a parameter called
    // "constructor" must not resolve to Object.prototype.constructor.
    const activation: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    let missing: string[] | undefined;
    for (const { name } of this.#params) {
      let value = this.#pick(tuple, name); // not `??`: null is a legitimate `any` value
      if (value === undefined) value = this.#pick(request, name);
      if (value !== undefined) activation[name] = value;
      else if (this.#referenced.has(name)) (missing ??= []).push(name);
    }
    if (missing !== undefined) {
      throw new TenetError("condition_missing_parameters", `condition '${this.name}' is missing parameter(s): ${missing.join(", ")}`, {
        details: missing.map((p) => ({ where: p, message: "missing context parameter" })),
      });
    }

    let result: unknown;
    try {
      result = this.#program(activation);
    } catch (err) {
      throw new TenetError("condition_evaluation_error", `failed to evaluate condition '${this.name}': ${errorText(err)}`, { cause: err });
    }
    if (typeof result !== "boolean") {
      throw new TenetError("condition_evaluation_error", `condition '${this.name}' did not evaluate to a bool`);
    }
    return result;
  }

  /** The converted value of `name` in one context; throws if that context has it with the wrong type. */
  #pick(ctx: ConvertedContext | undefined, name: string): unknown {
    if (ctx === undefined) return undefined;
    const value = ctx.values[name];
    if (value !== undefined) return value;
    const error = ctx.errors?.[name];
    if (error === undefined) return undefined;
    const type = this.#params.find((p) => p.name === name)?.type.display ?? "unknown";
    throw new TenetError(
      "invalid_context",
      `condition '${this.name}': failed to convert context parameter '${name}' (type ${type}): ${error.message}`,
      { cause: error, details: [{ where: name, message: error.message }] },
    );
  }

  #converted(ctx: ContextValue | undefined, which: string): ConvertedContext | undefined {
    if (ctx === undefined || ctx === null) return undefined;
    if (typeof ctx !== "object" || Array.isArray(ctx)) {
      throw new TenetError("invalid_context", `condition '${this.name}': the ${which} context must be an object`);
    }
    let converted = this.#cache.get(ctx);
    if (converted === undefined) {
      converted = convertContext(ctx, this.#params);
      this.#cache.set(ctx, converted);
    }
    return converted;
  }
}

function convertContext(ctx: ContextValue, params: readonly Param[]): ConvertedContext {
  const values: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  let errors: Record<string, ParamTypeError> | undefined;
  for (const { name, type } of params) {
    if (!Object.hasOwn(ctx, name)) continue;
    const raw = ctx[name];
    if (raw === undefined) continue;
    try {
      values[name] = type.convert(raw);
    } catch (err) {
      (errors ??= Object.create(null) as Record<string, ParamTypeError>)[name] =
        err instanceof ParamTypeError ? err : new ParamTypeError(errorText(err));
    }
  }
  return { values, errors };
}

// Macros whose first argument is an iteration variable scoped to the remaining arguments.
const COMPREHENSIONS = new Set(["all", "exists", "exists_one", "map", "filter"]);

/** Declared parameters the expression reads, ignoring names shadowed by comprehension/bind variables. */
function referencedParameters(root: ASTNode, declared: ReadonlySet<string>): Set<string> {
  const found = new Set<string>();
  const visit = (node: unknown, bound: ReadonlySet<string>): void => {
    if (Array.isArray(node)) {
      for (const child of node) visit(child, bound);
      return;
    }
    if (typeof node !== "object" || node === null || !("op" in node)) return;
    const ast = node as ASTNode;
    if (ast.op === "id") {
      if (declared.has(ast.args) && !bound.has(ast.args)) found.add(ast.args);
      return;
    }
    if (ast.op === "rcall") {
      const [fn, receiver, args] = ast.args;
      const first = args[0];
      const isBind = fn === "bind" && receiver.op === "id" && receiver.args === "cel" && args.length === 3;
      if (first?.op === "id" && (COMPREHENSIONS.has(fn) || isBind)) {
        const inner = new Set(bound).add(first.args);
        visit(receiver, bound);
        if (isBind) {
          visit(args[1], bound); // the bound value is evaluated outside the binding
          visit(args[2], inner);
        } else {
          visit(args.slice(1), inner);
        }
        return;
      }
    }
    visit(ast.args, bound);
  };
  visit(root, new Set());
  return found;
}

/** One-line text of an error; the library's own messages embed a multi-line source excerpt. */
function errorText(err: unknown): string {
  if (err instanceof Error) {
    const summary = (err as { summary?: unknown }).summary;
    const range = (err as { range?: { start: number } }).range;
    const text = typeof summary === "string" ? summary : err.message;
    return range === undefined || err instanceof EvaluationError ? text : `${text} (at offset ${range.start})`;
  }
  return String(err);
}
