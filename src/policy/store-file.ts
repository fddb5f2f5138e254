/**
 * OpenFGA's store file format (as read by `fga store import` and written by `fga store export`):
 * YAML with `name`, the model inline (`model`) or by path (`model_file`), tuples inline
 * (`tuples`) or by path (`tuple_file`, YAML or JSON), and optional `tests`. Lets users move a
 * store between OpenFGA and Tenet unchanged.
 */
import st from "@openfga/syntax-transformer";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { TenetError } from "../errors.js";
import type { AuthorizationModel } from "./model/types.js";
import type { PolicyService } from "./service.js";
import { tupleKeyString, type TupleKey } from "./tuples/tuple.js";
import { validateTuple } from "./tuples/validate.js";
import { TypeSystem } from "./model/typesystem.js";

export interface StoreFile {
  name: string;
  /** The model as DSL or JSON text. */
  model: string;
  tuples: TupleKey[];
  tests?: unknown[];
}

/** Reads files named by the store file (relative to it); injected so the domain does no I/O. */
export type ReadRelative = (path: string) => Promise<string>;

function asTuples(value: unknown, where: string): TupleKey[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new TenetError("validation_error", `${where} must be a list of tuples`);
  return value.map((t, i) => {
    if (typeof t !== "object" || t === null || typeof t.user !== "string" || typeof t.relation !== "string" || typeof t.object !== "string") {
      throw new TenetError("validation_error", `${where}[${i}] needs user, relation and object strings`);
    }
    const key: TupleKey = { object: t.object, relation: t.relation, user: t.user };
    if (t.condition) key.condition = t.condition;
    return key;
  });
}

export async function parseStoreFile(text: string, readRelative: ReadRelative): Promise<StoreFile> {
  let doc: Record<string, unknown>;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 }) as Record<string, unknown>;
  } catch (err) {
    throw new TenetError("validation_error", `store file is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (typeof doc !== "object" || doc === null) throw new TenetError("validation_error", "store file must be a YAML mapping");
  let model: string | undefined;
  if (typeof doc.model === "string") model = doc.model;
  else if (typeof doc.model_file === "string") model = await readRelative(doc.model_file);
  if (!model) throw new TenetError("validation_error", "store file needs 'model' or 'model_file'");
  let tuples = asTuples(doc.tuples, "tuples");
  if (typeof doc.tuple_file === "string") {
    const t = await readRelative(doc.tuple_file);
    let parsed: unknown;
    try {
      parsed = doc.tuple_file.endsWith(".json") ? JSON.parse(t) : parseYaml(t);
    } catch (err) {
      throw new TenetError("validation_error", `tuple_file ${doc.tuple_file} is not valid: ${(err as Error).message}`, { cause: err });
    }
    tuples = tuples.concat(asTuples(parsed, "tuple_file"));
  }
  const out: StoreFile = { name: typeof doc.name === "string" && doc.name ? doc.name : "imported", model, tuples };
  if (Array.isArray(doc.tests)) out.tests = doc.tests;
  return out;
}

/**
 * Creates a store (or uses `storeId`), writes the model and all tuples. Everything is validated
 * before anything is written, and a store created here is deleted again if a write fails, so a
 * failed import leaves nothing behind.
 */
export async function importStore(svc: PolicyService, file: StoreFile, storeId?: string): Promise<{ storeId: string; modelId: string; tuples: number }> {
  const ts = TypeSystem.from(file.model);
  const seen = new Set<string>();
  file.tuples.forEach((t, i) => {
    try {
      validateTuple(ts, t);
    } catch (err) {
      if (err instanceof TenetError) throw new TenetError(err.code, `tuples[${i}]: ${err.message}`, { cause: err });
      throw err;
    }
    const key = tupleKeyString(t);
    if (seen.has(key)) throw new TenetError("duplicate_tuple_in_write", `tuples[${i}]: duplicate tuple '${key}'`);
    seen.add(key);
  });
  if (storeId !== undefined) await svc.getStore(storeId);
  const id = storeId ?? (await svc.createStore(file.name.slice(0, 64))).id;
  try {
    const model = await svc.writeModel(id, ts.model);
    for (let i = 0; i < file.tuples.length; i += 100) {
      await svc.write(id, { writes: file.tuples.slice(i, i + 100), modelId: model.id });
    }
    return { storeId: id, modelId: model.id, tuples: file.tuples.length };
  } catch (err) {
    if (storeId === undefined) await svc.deleteStore(id).catch(() => undefined);
    throw err;
  }
}

/** Writes a store as an OpenFGA store file (model as DSL, tuples inline). */
export async function exportStore(svc: PolicyService, storeId: string): Promise<string> {
  const store = await svc.getStore(storeId);
  const rec = await svc.getModel(storeId);
  const tuples: TupleKey[] = [];
  let token: string | undefined;
  do {
    const page = await svc.read(storeId, {}, token ? { pageSize: 100, continuationToken: token } : { pageSize: 100 });
    for (const t of page.items) tuples.push(t.key);
    token = page.continuationToken;
  } while (token);
  const dsl = st.transformer.transformJSONToDSL(rec.model as AuthorizationModel as never);
  return stringifyYaml({ name: store.name, model: dsl, tuples }, { lineWidth: 0 });
}
