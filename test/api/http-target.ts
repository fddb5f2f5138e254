/**
 * A SuiteTarget (what runSuite drives) implemented as a client of Tenet's HTTP API, so the
 * behaviour suites run end to end through routing, validation, JSON shapes and error mapping.
 * Failed requests throw an HttpApiError carrying OpenFGA's numeric error code, derived from the
 * error name in the response body exactly as an OpenFGA client would see it.
 */
import st from "@openfga/syntax-transformer";
import type { PolicyService } from "../../src/policy/service.js";
import type { SuiteTarget } from "../../src/policy/testing/suite.js";
import type { TupleKey } from "../../src/policy/tuples/tuple.js";
import type { ModelRecord, StoreRecord } from "../../src/storage/interfaces.js";
import type { AuthorizationModel } from "../../src/policy/model/types.js";

/** OpenFGA's error names and numbers (openfga/api, openfga/v1/errors_ignore.proto). */
export const OPENFGA_ERROR_CODES: Readonly<Record<string, number>> = {
  validation_error: 2000,
  authorization_model_not_found: 2001,
  authorization_model_resolution_too_complex: 2002,
  invalid_write_input: 2003,
  cannot_allow_duplicate_tuples_in_one_request: 2004,
  cannot_allow_duplicate_types_in_one_request: 2005,
  cannot_allow_multiple_references_to_one_relation: 2006,
  invalid_continuation_token: 2007,
  invalid_tuple_set: 2008,
  invalid_check_input: 2009,
  invalid_expand_input: 2010,
  unsupported_user_set: 2011,
  invalid_object_format: 2012,
  write_failed_due_to_invalid_input: 2017,
  authorization_model_assertions_not_found: 2018,
  latest_authorization_model_not_found: 2020,
  type_not_found: 2021,
  relation_not_found: 2022,
  empty_relation_definition: 2023,
  invalid_user: 2025,
  invalid_tuple: 2027,
  unknown_relation: 2028,
  store_id_invalid_length: 2030,
  assertions_too_many_items: 2033,
  id_too_long: 2034,
  exceeded_entity_limit: 2053,
  invalid_contextual_tuple: 2054,
  duplicate_contextual_tuple: 2055,
  invalid_authorization_model: 2056,
  unsupported_schema_version: 2057,
  internal_error: 4000,
  undefined_endpoint: 5000,
  store_id_not_found: 5002,
};

export class HttpApiError extends Error {
  override readonly name = "HttpApiError";
  /** OpenFGA's numeric code for the error name in the body (undefined for names it lacks). */
  readonly openfgaCode: number | undefined;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`HTTP ${status} ${code}: ${message}`);
    this.openfgaCode = OPENFGA_ERROR_CODES[code];
  }
}

type Args<K extends keyof SuiteTarget> = Parameters<PolicyService[K]>;

const contextual = (t: TupleKey[] | undefined) => (t ? { tuple_keys: t } : undefined);

export class HttpTarget implements SuiteTarget {
  constructor(
    private readonly url: string,
    private readonly token: string,
  ) {}

  private async post<T>(path: string, body: unknown): Promise<{ json: T; headers: Headers }> {
    const res = await fetch(this.url + path, {
      method: "POST",
      headers: { authorization: `Bearer ${this.token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`HTTP ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
    }
    if (!res.ok) {
      const e = json as { code?: unknown; message?: unknown };
      if (typeof e.code !== "string" || typeof e.message !== "string") throw new Error(`HTTP ${res.status} without an error body: ${text.slice(0, 200)}`);
      throw new HttpApiError(res.status, e.code, e.message);
    }
    return { json: json as T, headers: res.headers };
  }

  async createStore(name: string): Promise<StoreRecord> {
    // OpenFGA store names are 3 to 64 characters.
    const { json } = await this.post<{ id: string; name: string; created_at: string; updated_at: string }>("/stores", { name: name.padEnd(3, "_") });
    return { id: json.id, name: json.name, createdAt: json.created_at, updatedAt: json.updated_at };
  }

  async writeModel(storeId: string, input: unknown): Promise<ModelRecord> {
    // The suites carry DSL; the HTTP API (like OpenFGA's) takes the JSON form.
    const model = (typeof input === "string" ? st.transformer.transformDSLToJSONObject(input) : input) as AuthorizationModel;
    const { json } = await this.post<{ authorization_model_id: string }>(`/stores/${storeId}/authorization-models`, model);
    return { id: json.authorization_model_id, storeId, model, createdAt: new Date().toISOString() };
  }

  async write(storeId: string, req: Args<"write">[1]): Promise<number> {
    const body = {
      writes: req.writes?.length ? { tuple_keys: req.writes } : undefined,
      deletes: req.deletes?.length ? { tuple_keys: req.deletes } : undefined,
      authorization_model_id: req.modelId,
    };
    const { headers } = await this.post(`/stores/${storeId}/write`, body);
    return Number(headers.get("tenet-consistency-token"));
  }

  async check(storeId: string, req: Args<"check">[1]): Promise<{ allowed: boolean }> {
    const { json } = await this.post<{ allowed: boolean }>(`/stores/${storeId}/check`, {
      tuple_key: { object: req.object, relation: req.relation, user: req.user },
      context: req.context,
      contextual_tuples: contextual(req.contextualTuples),
      authorization_model_id: req.modelId,
    });
    return { allowed: json.allowed };
  }

  async listObjects(storeId: string, req: Args<"listObjects">[1]): Promise<string[]> {
    const { json } = await this.post<{ objects: string[] }>(`/stores/${storeId}/list-objects`, {
      type: req.type,
      relation: req.relation,
      user: req.user,
      context: req.context,
      contextual_tuples: contextual(req.contextualTuples),
      authorization_model_id: req.modelId,
    });
    return json.objects;
  }

  async listUsers(storeId: string, req: Args<"listUsers">[1]): Promise<string[]> {
    const colon = req.object.indexOf(":");
    const { json } = await this.post<{ users: Array<{ object?: { type: string; id: string }; userset?: { type: string; id: string; relation: string }; wildcard?: { type: string } }> }>(
      `/stores/${storeId}/list-users`,
      {
        object: colon < 0 ? { type: req.object, id: "" } : { type: req.object.slice(0, colon), id: req.object.slice(colon + 1) },
        relation: req.relation,
        user_filters: req.userFilters.map((f) => (f.relation ? { type: f.type, relation: f.relation } : { type: f.type })),
        context: req.context,
        contextual_tuples: req.contextualTuples,
        authorization_model_id: req.modelId,
      },
    );
    return json.users.map((u) => {
      if (u.object) return `${u.object.type}:${u.object.id}`;
      if (u.userset) return `${u.userset.type}:${u.userset.id}#${u.userset.relation}`;
      if (u.wildcard) return `${u.wildcard.type}:*`;
      throw new Error(`list-users returned an unknown user shape: ${JSON.stringify(u)}`);
    });
  }
}
