/**
 * The policy engine for one store: the in-memory tuple index plus the queries OpenFGA defines
 * (Check, BatchCheck, Expand, ListObjects, ListUsers). Requests are validated against the model
 * first, with OpenFGA's error codes; evaluation is synchronous.
 */
import { TenetError } from "../../errors.js";
import type { TypeSystem } from "../model/typesystem.js";
import { parseObject, parseUser, type TupleKey } from "../tuples/tuple.js";
import { validateTuple } from "../tuples/validate.js";
import { BoundModel } from "./bound-model.js";
import { expand, type UsersetTreeNode } from "./expand.js";
import { listObjects } from "./list-objects.js";
import { listUsers } from "./list-users.js";
import { ERROR, type Outcome, Resolver, TRUE, type Why } from "./resolver.js";
import { TupleIndex } from "./tuple-index.js";
import { isUsersetInfo, isWildcardInfo, typeOfInfo } from "./entity-table.js";

/** OpenFGA's limits on one request. */
export const MAX_CONTEXTUAL_TUPLES = 100;
export const MAX_BATCH_CHECK = 50;
export const DEFAULT_LIST_OBJECTS_MAX_RESULTS = 1000;
export const DEFAULT_LIST_USERS_MAX_RESULTS = 1000;
const MAX_CONTEXT_BYTES = 64 * 1024;

export interface QueryOptions {
  contextualTuples?: TupleKey[] | undefined;
  context?: Record<string, unknown> | undefined;
}

export interface CheckRequest extends QueryOptions {
  object: string;
  relation: string;
  user: string;
  /** Return the path of tuples and rewrites that granted access. */
  explain?: boolean | undefined;
}

export interface CheckResult {
  allowed: boolean;
  why?: Why;
}

export interface BatchCheckItem extends CheckRequest {
  correlationId: string;
}

export type BatchCheckOutcome = { allowed: boolean; error?: undefined } | { allowed?: undefined; error: { code: string; openfgaCode?: number; message: string } };

export interface ListObjectsRequest extends QueryOptions {
  type: string;
  relation: string;
  user: string;
  maxResults?: number | undefined;
}

export interface ListUsersRequest extends QueryOptions {
  object: string;
  relation: string;
  /** `type` or `type#relation`; OpenFGA accepts exactly one. */
  userFilters: Array<{ type: string; relation?: string | undefined }>;
  maxResults?: number | undefined;
}

export interface ExpandRequest {
  object: string;
  relation: string;
  contextualTuples?: TupleKey[] | undefined;
}

type Kind = "check" | "list";

/**
 * An upper bound of the JSON size of a context whose values are all primitives; Infinity when a
 * value is an object (then it is serialized to measure it).
 */
function flatSizeBound(ctx: Record<string, unknown>): number {
  let n = 2;
  for (const k in ctx) {
    const v = ctx[k];
    // Escaping can turn one character into six (a \u escape); the bound allows for it.
    if (typeof v === "string") n += 6 * (k.length + v.length) + 6;
    else if (typeof v === "number" || typeof v === "boolean" || v === null || v === undefined) n += 6 * k.length + 30;
    else return Infinity;
    if (n > MAX_CONTEXT_BYTES) return n;
  }
  return n;
}

export class Engine {
  readonly index: TupleIndex;
  private readonly bound = new WeakMap<TypeSystem, BoundModel>();

  constructor(index: TupleIndex = new TupleIndex()) {
    this.index = index;
  }

  /** The model bound to this engine's index (cached per model). */
  bind(ts: TypeSystem): BoundModel {
    let b = this.bound.get(ts);
    if (!b) {
      b = new BoundModel(ts, this.index);
      this.bound.set(ts, b);
    }
    return b;
  }

  check(ts: TypeSystem, req: CheckRequest): CheckResult {
    const model = this.bind(ts);
    if (typeof req !== "object" || req === null || typeof req.object !== "string" || typeof req.relation !== "string" || typeof req.user !== "string") {
      requireStrings(req, ["object", "relation", "user"]);
    }
    const fast = this.fastCheck(model, req);
    if (fast !== null) return fast;
    const obj = parseObject(req.object);
    const rel = model.relationByName(obj.type, req.relation);
    if (!ts.hasType(obj.type)) throw new TenetError("validation_error", `type '${obj.type}' is not defined in the model`);
    if (!rel) throw new TenetError("validation_error", `relation '${obj.type}#${req.relation}' is not defined in the model`);
    this.validateUser(ts, req.user, "check");
    const overlay = this.withEntities(this.overlay(ts, req.contextualTuples), req.object, req.user);
    const resolver = new Resolver(model, this.index, overlay, this.context(req.context), req.explain === true);
    resolver.setSubject(resolver.subjectFor(req.user));
    return this.result(resolver, resolver.check(resolver.ent.lookup(req.object), rel));
  }

  /**
   * The common case: no contextual tuples, and object and user already known to the index.
   * Known strings were validated when their tuples were written, so the request needs no
   * parsing: two look-ups find everything. Returns null to take the general path.
   */
  private fastCheck(model: BoundModel, req: CheckRequest): CheckResult | null {
    if (req.contextualTuples !== undefined && req.contextualTuples !== null && (!Array.isArray(req.contextualTuples) || req.contextualTuples.length > 0)) return null;
    const ent = this.index.entities;
    const objId = ent.lookup(req.object);
    if (objId < 0) return null;
    const objInfo = ent.infoOf(objId);
    if (isUsersetInfo(objInfo) || isWildcardInfo(objInfo)) return null;
    const userId = ent.lookup(req.user);
    if (userId < 0) return null;
    const relId = ent.relations.lookup(req.relation);
    const rel = relId < 0 ? undefined : model.relation(typeOfInfo(objInfo), relId);
    if (rel === undefined) return null;
    const userInfo = ent.infoOf(userId);
    const userType = typeOfInfo(userInfo);
    if (!model.hasTypeId(userType)) return null;
    if (isUsersetInfo(userInfo) && model.relation(userType, ent.usersetRelationOf(userId)) === undefined) return null;
    const resolver = new Resolver(model, this.index, null, this.context(req.context), req.explain === true);
    resolver.setSubject(resolver.subjectOf(userId, userInfo));
    return this.result(resolver, resolver.check(objId, rel));
  }

  private result(resolver: Resolver, r: Outcome): CheckResult {
    if (r === ERROR && resolver.error) throw resolver.error;
    const result: CheckResult = { allowed: r === TRUE };
    if (r === TRUE && resolver.why) result.why = resolver.why;
    return result;
  }

  /** Runs each check independently: one item's error does not fail the others. */
  batchCheck(ts: TypeSystem, items: BatchCheckItem[]): Map<string, BatchCheckOutcome> {
    if (!Array.isArray(items) || items.length === 0) throw new TenetError("validation_error", "batch check needs at least one check");
    if (items.length > MAX_BATCH_CHECK) throw new TenetError("validation_error", `batch check accepts at most ${MAX_BATCH_CHECK} checks`);
    const out = new Map<string, BatchCheckOutcome>();
    for (const item of items) {
      if (typeof item?.correlationId !== "string" || item.correlationId === "" || item.correlationId.length > 36) {
        throw new TenetError("validation_error", "every batch item needs a correlation id of 1 to 36 characters");
      }
      if (out.has(item.correlationId)) throw new TenetError("validation_error", `duplicate correlation id '${item.correlationId}'`);
      try {
        out.set(item.correlationId, { allowed: this.check(ts, item).allowed });
      } catch (err) {
        if (!(err instanceof TenetError)) throw err;
        const error: { code: string; openfgaCode?: number; message: string } = { code: err.code, message: err.message };
        if (err.openfgaCode !== undefined) error.openfgaCode = err.openfgaCode;
        out.set(item.correlationId, { error });
      }
    }
    return out;
  }

  expand(ts: TypeSystem, req: ExpandRequest): UsersetTreeNode {
    const model = this.bind(ts);
    requireStrings(req, ["object", "relation"]);
    const obj = parseObject(req.object);
    if (!ts.hasType(obj.type)) throw new TenetError("type_not_found", `type '${obj.type}' is not defined in the model`);
    const rel = model.relationByName(obj.type, req.relation);
    if (!rel) throw new TenetError("relation_not_found", `relation '${obj.type}#${req.relation}' is not defined in the model`);
    const overlay = this.overlay(ts, req.contextualTuples);
    const ent = overlay ? overlay.entities : this.index.entities;
    return expand(model, this.index, overlay, req.object, ent.lookup(req.object), rel);
  }

  listObjects(ts: TypeSystem, req: ListObjectsRequest): string[] {
    const model = this.bind(ts);
    requireStrings(req, ["type", "relation", "user"]);
    if (!ts.hasType(req.type)) throw new TenetError("type_not_found", `type '${req.type}' is not defined in the model`);
    const rel = model.relationByName(req.type, req.relation);
    if (!rel) throw new TenetError("relation_not_found", `relation '${req.type}#${req.relation}' is not defined in the model`);
    this.validateUser(ts, req.user, "list");
    const overlay = this.withEntities(this.overlay(ts, req.contextualTuples), null, req.user);
    const resolver = new Resolver(model, this.index, overlay, this.context(req.context));
    const subject = resolver.subjectFor(req.user);
    const max = this.limit(req.maxResults, DEFAULT_LIST_OBJECTS_MAX_RESULTS);
    const ids = listObjects(resolver, this.index, overlay, subject, rel, { maxResults: max });
    return ids.map((id) => resolver.ent.string(id));
  }

  listUsers(ts: TypeSystem, req: ListUsersRequest): string[] {
    const model = this.bind(ts);
    requireStrings(req, ["object", "relation"]);
    const obj = parseObject(req.object);
    if (!ts.hasType(obj.type)) throw new TenetError("type_not_found", `type '${obj.type}' is not defined in the model`);
    const rel = model.relationByName(obj.type, req.relation);
    if (!rel) throw new TenetError("relation_not_found", `relation '${obj.type}#${req.relation}' is not defined in the model`);
    if (!Array.isArray(req.userFilters) || req.userFilters.length !== 1) {
      throw new TenetError("validation_error", "list users needs exactly one user filter");
    }
    const f = req.userFilters[0]!;
    if (typeof f !== "object" || f === null) throw new TenetError("validation_error", "a user filter must be an object with a type");
    requireStrings(f, ["type"]);
    if (f.relation !== undefined && typeof f.relation !== "string") throw new TenetError("validation_error", "user filter relation must be a string");
    if (!ts.hasType(f.type)) throw new TenetError("type_not_found", `type '${f.type}' is not defined in the model`);
    if (f.relation !== undefined && f.relation !== "" && !ts.relation(f.type, f.relation)) {
      throw new TenetError("relation_not_found", `relation '${f.type}#${f.relation}' is not defined in the model`);
    }
    const overlay = this.withEntities(this.overlay(ts, req.contextualTuples), req.object, null);
    const resolver = new Resolver(model, this.index, overlay, this.context(req.context));
    const types = this.index.entities.types;
    const relations = this.index.entities.relations;
    const filter = { typeId: types.id(f.type), relId: f.relation ? relations.id(f.relation) : -1 };
    const max = this.limit(req.maxResults, DEFAULT_LIST_USERS_MAX_RESULTS);
    return listUsers(resolver, this.index, overlay, resolver.ent.lookup(req.object), rel, filter, max);
  }

  /**
   * Objects and users the store has never seen still need distinct ids (a userset is a member
   * of itself even with no tuples), so they are interned in the request's own child index.
   */
  private withEntities(overlay: TupleIndex | null, object: string | null, user: string | null): TupleIndex | null {
    const ent = overlay ? overlay.entities : this.index.entities;
    const needsObject = object !== null && ent.lookup(object) < 0;
    const hash = user === null ? -1 : user.indexOf("#");
    const needsUser = user !== null && (ent.lookup(user) < 0 || (hash >= 0 && ent.lookup(user.slice(0, hash)) < 0));
    if (!needsObject && !needsUser) return overlay;
    const o = overlay ?? new TupleIndex(this.index);
    if (needsObject) o.entities.entity(object!);
    if (needsUser) o.entities.user(user!);
    return o;
  }

  private validateUser(ts: TypeSystem, user: string, kind: Kind): void {
    const u = parseUser(user);
    if (!ts.hasType(u.type)) throw new TenetError("validation_error", `user type '${u.type}' is not defined in the model`);
    if (u.kind === "userset" && !ts.relation(u.type, u.relation)) {
      throw new TenetError("validation_error", `relation '${u.type}#${u.relation}' is not defined in the model`);
    }
    void kind;
  }

  private context(ctx: unknown): Record<string, unknown> | undefined {
    if (ctx === undefined || ctx === null) return undefined;
    if (typeof ctx !== "object" || Array.isArray(ctx)) throw new TenetError("invalid_context", "context must be a JSON object");
    // A flat context of short values (the usual `current_time` and a few strings) is certainly
    // small: summing its lengths avoids serializing it on every check.
    if (flatSizeBound(ctx as Record<string, unknown>) <= MAX_CONTEXT_BYTES) return ctx as Record<string, unknown>;
    let size: number;
    try {
      size = JSON.stringify(ctx).length;
    } catch {
      // Cycles or nesting deep enough to exhaust the stack.
      throw new TenetError("invalid_context", "context must be plain JSON of reasonable depth");
    }
    if (size > MAX_CONTEXT_BYTES) throw new TenetError("request_too_large", `context is larger than ${MAX_CONTEXT_BYTES} bytes`);
    return ctx as Record<string, unknown>;
  }

  private limit(v: number | undefined, dflt: number): number {
    if (v === undefined) return dflt;
    if (!Number.isInteger(v) || v < 1) throw new TenetError("validation_error", "maxResults must be a positive integer");
    return v;
  }

  /** Contextual tuples live in a per-request child index that falls back to the store's. */
  private overlay(ts: TypeSystem, tuples: TupleKey[] | undefined): TupleIndex | null {
    if (tuples === undefined || tuples === null) return null;
    if (!Array.isArray(tuples)) throw new TenetError("validation_error", "contextual tuples must be an array");
    if (tuples.length === 0) return null;
    if (tuples.length > MAX_CONTEXTUAL_TUPLES) {
      throw new TenetError("validation_error", `at most ${MAX_CONTEXTUAL_TUPLES} contextual tuples are allowed`);
    }
    const overlay = new TupleIndex(this.index);
    for (const t of tuples) {
      validateTuple(ts, t);
      overlay.add(t);
    }
    return overlay;
  }
}

/** Fails with a validation error (not a TypeError) when a field is not a string. */
function requireStrings<T extends object>(req: T, fields: Array<keyof T & string>): void {
  if (typeof req !== "object" || req === null) throw new TenetError("validation_error", "request must be an object");
  for (const f of fields) {
    if (typeof req[f] !== "string") throw new TenetError("validation_error", `${f} must be a string`);
  }
}
