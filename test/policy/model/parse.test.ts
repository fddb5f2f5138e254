/**
 * Model parsing and validation: DSL and JSON forms, error codes and the location details an
 * OpenFGA user needs to fix a model (line numbers, relation names), and the size limit.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { isTenetError, type TenetErrorCode } from "../../../src/errors.js";
import { MAX_MODEL_BYTES, parseDsl, parseJson, parseModel } from "../../../src/policy/model/parse.js";
import { TypeSystem } from "../../../src/policy/model/typesystem.js";
import type { AuthorizationModel } from "../../../src/policy/model/types.js";
import { Engine } from "../../../src/policy/engine/engine.js";

function rejects(fn: () => unknown, code: TenetErrorCode, check?: (err: { message: string; details: readonly { where?: string; message: string }[] }) => void): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isTenetError(err), `expected a TenetError, got ${String(err)}`);
    assert.equal(err.code, code, `code for: ${err.message}`);
    assert.equal(err.status, 400);
    assert.equal(err.openfgaCode, 2000);
    check?.(err);
    return true;
  });
}

/** A details entry whose `where` contains every fragment. */
function hasWhere(details: readonly { where?: string; message: string }[], ...fragments: string[]): boolean {
  return details.some((d) => d.where !== undefined && fragments.every((f) => d.where!.includes(f)));
}

const DSL = `model
  schema 1.1
type user
type group
  relations
    define member: [user, user:*, group#member]
type folder
  relations
    define owner: [user]
    define parent: [folder]
    define viewer: [user with in_range, group#member] or owner or viewer from parent
    define blocked: [user]
    define can_view: viewer but not blocked
    define can_share: owner and viewer
condition in_range(x: int, limit: int) {
  x < limit
}
`;

/** The same model, written by hand in the JSON shape of OpenFGA's WriteAuthorizationModel API. */
const JSON_MODEL: AuthorizationModel = {
  schema_version: "1.1",
  type_definitions: [
    { type: "user" },
    {
      type: "group",
      relations: { member: { this: {} } },
      metadata: {
        relations: {
          member: { directly_related_user_types: [{ type: "user" }, { type: "user", wildcard: {} }, { type: "group", relation: "member" }] },
        },
      },
    },
    {
      type: "folder",
      relations: {
        owner: { this: {} },
        parent: { this: {} },
        viewer: {
          union: {
            child: [
              { this: {} },
              { computedUserset: { object: "", relation: "owner" } },
              { tupleToUserset: { tupleset: { object: "", relation: "parent" }, computedUserset: { object: "", relation: "viewer" } } },
            ],
          },
        },
        blocked: { this: {} },
        can_view: { difference: { base: { computedUserset: { relation: "viewer" } }, subtract: { computedUserset: { relation: "blocked" } } } },
        can_share: { intersection: { child: [{ computedUserset: { relation: "owner" } }, { computedUserset: { relation: "viewer" } }] } },
      },
      metadata: {
        relations: {
          owner: { directly_related_user_types: [{ type: "user" }] },
          parent: { directly_related_user_types: [{ type: "folder" }] },
          viewer: { directly_related_user_types: [{ type: "user", condition: "in_range" }, { type: "group", relation: "member" }] },
          blocked: { directly_related_user_types: [{ type: "user" }] },
        },
      },
    },
  ],
  conditions: {
    in_range: {
      name: "in_range",
      expression: "x < limit",
      parameters: { x: { type_name: "TYPE_NAME_INT" }, limit: { type_name: "TYPE_NAME_INT" } },
    },
  },
};

/** What the engine sees of a model: per type, each relation's rewrite and normalised type restrictions. */
function shape(ts: TypeSystem): unknown {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, td] of ts.types) {
    const rels: Record<string, unknown> = {};
    for (const [rn, rd] of td.relations) {
      rels[rn] = {
        rewrite: rd.rewrite,
        direct: rd.directTypes
          .map((r) => `${r.type}${r.wildcard ? ":*" : ""}${r.relation ? `#${r.relation}` : ""}${r.condition ? ` with ${r.condition}` : ""}`)
          .sort(),
      };
    }
    out[name] = rels;
  }
  return { types: out, conditions: [...ts.conditions.keys()].sort() };
}

describe("model: DSL and JSON forms", () => {
  it("the DSL and the hand-written JSON compile to the same model", () => {
    const fromDsl = TypeSystem.from(DSL);
    const fromJson = TypeSystem.from(JSON_MODEL);
    const fromJsonText = TypeSystem.from(JSON.stringify(JSON_MODEL));
    assert.deepEqual(shape(fromJson), shape(fromDsl));
    assert.deepEqual(shape(fromJsonText), shape(fromDsl));
    // Sanity: the comparison is not vacuous.
    const viewer = fromDsl.relation("folder", "viewer");
    assert.ok(viewer);
    assert.equal(viewer.rewrite.kind, "union");
    assert.equal(fromDsl.relation("folder", "can_view")?.rewrite.kind, "difference");
    assert.equal(fromDsl.relation("folder", "can_share")?.rewrite.kind, "intersection");
  });

  it("a different JSON model does not compare equal (the comparison can fail)", () => {
    const changed = structuredClone(JSON_MODEL);
    changed.type_definitions[2]!.metadata!.relations!["blocked"] = { directly_related_user_types: [{ type: "user" }, { type: "user", wildcard: {} }] };
    assert.notDeepEqual(shape(TypeSystem.from(changed)), shape(TypeSystem.from(DSL)));
  });

  it("parseModel dispatches on the input: DSL text, JSON text and JSON objects", () => {
    const a = parseModel(DSL);
    const b = parseModel(JSON.stringify(a));
    const c = parseModel(a);
    assert.deepEqual(b, c);
    assert.equal(a.schema_version, "1.1");
    assert.deepEqual(
      a.type_definitions.map((t) => t.type),
      ["user", "group", "folder"],
    );
    // Leading whitespace before the JSON brace is still JSON.
    assert.deepEqual(parseModel(`\n   ${JSON.stringify(a)}`), c);
  });

  it("both forms answer checks identically", () => {
    const requests = [
      { object: "folder:root", relation: "viewer", user: "user:anne" },
      { object: "folder:child", relation: "viewer", user: "user:anne" },
      { object: "folder:child", relation: "can_view", user: "user:anne" },
      { object: "folder:root", relation: "can_share", user: "user:anne" },
      { object: "folder:child", relation: "viewer", user: "user:bob", context: { x: 1, limit: 5 } },
      { object: "folder:child", relation: "viewer", user: "user:bob", context: { x: 9, limit: 5 } },
    ];
    const tuples = [
      { object: "folder:root", relation: "owner", user: "user:anne" },
      { object: "folder:child", relation: "parent", user: "folder:root" },
      { object: "folder:child", relation: "blocked", user: "user:anne" },
      { object: "folder:child", relation: "viewer", user: "user:bob", condition: { name: "in_range" } },
    ];
    const answers = (ts: TypeSystem): boolean[] => {
      const engine = new Engine();
      for (const t of tuples) engine.index.add(t);
      return requests.map((r) => engine.check(ts, r).allowed);
    };
    const expected = [true, true, false, true, true, false];
    assert.deepEqual(answers(TypeSystem.from(DSL)), expected);
    assert.deepEqual(answers(TypeSystem.from(JSON_MODEL)), expected);
  });

  it("parseDsl keeps conditions with their parameter types", () => {
    const m = parseDsl(DSL);
    assert.deepEqual(m.conditions?.["in_range"]?.parameters, { x: { type_name: "TYPE_NAME_INT" }, limit: { type_name: "TYPE_NAME_INT" } });
    assert.equal(m.conditions?.["in_range"]?.expression.trim(), "x < limit");
  });
});

describe("model: malformed DSL", () => {
  it("a syntax error is invalid_dsl with a detail naming the line", () => {
    const dsl = "model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define viewer [user]\n";
    rejects(() => parseDsl(dsl), "invalid_dsl", (err) => {
      assert.ok(hasWhere(err.details, "line 6"), JSON.stringify(err.details));
      assert.match(err.message, /line 6/);
    });
  });

  it("the reported line follows the error, not a fixed position", () => {
    const dsl = "model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define owner: [user]\n    define editor: [user]\n    define viewer: [user] or or editor\n";
    rejects(() => parseDsl(dsl), "invalid_dsl", (err) => assert.ok(hasWhere(err.details, "line 8"), JSON.stringify(err.details)));
  });

  it("empty or whitespace-only DSL is invalid_dsl", () => {
    rejects(() => parseDsl(""), "invalid_dsl");
    rejects(() => parseDsl("   \n\t "), "invalid_dsl");
    rejects(() => parseModel(""), "invalid_dsl");
  });

  it("a condition parameter with an unknown type is a DSL error", () => {
    const dsl = "model\n  schema 1.1\ntype user\ntype doc\n  relations\n    define viewer: [user with c]\ncondition c(x: foo) {\n  x < 1\n}\n";
    rejects(() => parseDsl(dsl), "invalid_dsl", (err) => assert.ok(hasWhere(err.details, "line 7"), JSON.stringify(err.details)));
  });
});

describe("model: semantic errors", () => {
  const header = "model\n  schema 1.1\ntype user\ntype doc\n  relations\n";

  it("an unknown type in a type restriction names the line and relation", () => {
    rejects(() => TypeSystem.from(`${header}    define viewer: [team]\n`), "invalid_model", (err) => {
      assert.ok(hasWhere(err.details, "line 6", "relation viewer"), JSON.stringify(err.details));
      assert.match(err.message, /team/);
    });
  });

  it("an unknown computed relation names the line and relation", () => {
    rejects(() => TypeSystem.from(`${header}    define owner: [user]\n    define viewer: editor\n`), "invalid_model", (err) => {
      assert.ok(hasWhere(err.details, "line 7", "relation viewer"), JSON.stringify(err.details));
      assert.match(err.message, /editor/);
    });
  });

  it("an unknown relation on the tupleset's type is invalid_model", () => {
    rejects(() => TypeSystem.from(`${header}    define parent: [doc]\n    define viewer: missing from parent\n`), "invalid_model", (err) => {
      assert.ok(hasWhere(err.details, "relation viewer"), JSON.stringify(err.details));
      assert.match(err.message, /missing/);
    });
  });

  it("impossible relations (a loop without an entry point) are reported for each relation", () => {
    rejects(() => TypeSystem.from(`${header}    define a: b\n    define b: a\n`), "invalid_model", (err) => {
      assert.ok(hasWhere(err.details, "line 6", "relation a"), JSON.stringify(err.details));
      assert.ok(hasWhere(err.details, "line 7", "relation b"), JSON.stringify(err.details));
    });
    rejects(() => TypeSystem.from(`${header}    define viewer: viewer\n`), "invalid_model", (err) => {
      assert.ok(hasWhere(err.details, "relation viewer"), JSON.stringify(err.details));
    });
  });

  it("a duplicate type is invalid_model", () => {
    // The transformer points at the first declaration of the duplicated type.
    rejects(() => TypeSystem.from("model\n  schema 1.1\ntype user\ntype doc\ntype user\n"), "invalid_model", (err) => {
      assert.ok(hasWhere(err.details, "line 3"), JSON.stringify(err.details));
      assert.match(err.message, /duplicate/);
    });
  });

  it("schema 1.0 is refused", () => {
    rejects(() => TypeSystem.from("model\n  schema 1.0\ntype user\n"), "invalid_model");
    rejects(() => parseJson({ schema_version: "1.0", type_definitions: [{ type: "user" }] }), "invalid_model");
    rejects(() => parseJson({ type_definitions: [{ type: "user" }] }), "invalid_model");
  });

  it("an undefined condition on a type restriction is invalid_model naming the relation", () => {
    rejects(() => TypeSystem.from(`${header}    define viewer: [user with nope]\n`), "invalid_model", (err) => {
      assert.ok(hasWhere(err.details, "line 6", "relation viewer"), JSON.stringify(err.details));
      assert.match(err.message, /nope/);
    });
  });

  it("a condition expression that does not parse is invalid_condition naming the condition", () => {
    rejects(() => TypeSystem.from(`${header}    define viewer: [user with c]\ncondition c(x: int) {\n  x <\n}\n`), "invalid_condition", (err) => {
      assert.ok(hasWhere(err.details, "condition c"), JSON.stringify(err.details));
    });
  });

  it("a non-boolean condition expression is invalid_condition", () => {
    rejects(() => TypeSystem.from(`${header}    define viewer: [user with c]\ncondition c(x: int) {\n  x + 1\n}\n`), "invalid_condition", (err) => {
      assert.ok(hasWhere(err.details, "condition c"));
      assert.match(err.message, /bool/);
    });
  });

  it("a condition using an undeclared variable is invalid_condition", () => {
    rejects(() => TypeSystem.from(`${header}    define viewer: [user with c]\ncondition c(x: int) {\n  y < 1\n}\n`), "invalid_condition", (err) => {
      assert.match(err.message, /\by\b/);
    });
  });
});

describe("model: semantic errors in the JSON form", () => {
  const model = (relations: Record<string, unknown>, metadata?: Record<string, unknown>, conditions?: Record<string, unknown>): unknown => ({
    schema_version: "1.1",
    type_definitions: [{ type: "user" }, { type: "doc", relations, ...(metadata ? { metadata: { relations: metadata } } : {}) }],
    ...(conditions ? { conditions } : {}),
  });

  it("unknown type, unknown relation and loops name the relation", () => {
    rejects(() => TypeSystem.from(model({ viewer: { this: {} } }, { viewer: { directly_related_user_types: [{ type: "team" }] } })), "invalid_model", (err) =>
      assert.ok(hasWhere(err.details, "relation viewer"), JSON.stringify(err.details)),
    );
    rejects(() => TypeSystem.from(model({ viewer: { computedUserset: { relation: "editor" } } })), "invalid_model", (err) =>
      assert.ok(hasWhere(err.details, "relation viewer"), JSON.stringify(err.details)),
    );
    rejects(() => TypeSystem.from(model({ a: { computedUserset: { relation: "b" } }, b: { computedUserset: { relation: "a" } } })), "invalid_model", (err) => {
      assert.ok(hasWhere(err.details, "relation a"));
      assert.ok(hasWhere(err.details, "relation b"));
    });
  });

  it("a bad condition is invalid_condition; an undefined one is invalid_model", () => {
    const meta = { viewer: { directly_related_user_types: [{ type: "user", condition: "c" }] } };
    rejects(
      () => TypeSystem.from(model({ viewer: { this: {} } }, meta, { c: { name: "c", expression: "x <", parameters: { x: { type_name: "TYPE_NAME_INT" } } } })),
      "invalid_condition",
      (err) => assert.ok(hasWhere(err.details, "condition c")),
    );
    rejects(
      () => TypeSystem.from(model({ viewer: { this: {} } }, meta, { c: { name: "c", expression: "x < 1", parameters: { x: { type_name: "TYPE_NAME_NOPE" } } } })),
      "invalid_condition",
    );
    rejects(() => TypeSystem.from(model({ viewer: { this: {} } }, meta)), "invalid_model", (err) => assert.match(err.message, /\bc\b/));
  });

  it("invalid type and relation names are refused", () => {
    for (const name of ["", "a b", "doc:x", "doc#x", "*", "self", "this"]) {
      rejects(() => TypeSystem.from({ schema_version: "1.1", type_definitions: [{ type: "user" }, { type: name }] }), "invalid_model");
      rejects(
        () => TypeSystem.from(model({ [name]: { this: {} } }, { [name]: { directly_related_user_types: [{ type: "user" }] } })),
        "invalid_model",
      );
    }
  });

  it("a type name that is not a string is refused", () => {
    for (const name of [5, null, true]) {
      rejects(
        () => TypeSystem.from({ schema_version: "1.1", type_definitions: [{ type: "user" }, { type: name, relations: { viewer: { this: {} } }, metadata: { relations: { viewer: { directly_related_user_types: [{ type: "user" }] } } } }] }),
        "invalid_model",
      );
    }
  });

  it("JSON that is not a model object is invalid_model", () => {
    for (const input of [null, 42, [], "{not json", { schema_version: "1.1" }, { schema_version: "1.1", type_definitions: {} }]) {
      rejects(() => TypeSystem.from(input), "invalid_model");
    }
  });

  it("malformed rewrites in JSON are invalid_model, never a crash", () => {
    for (const rw of [{}, null, { union: 5 }, { union: { child: null } }, { tupleToUserset: {} }, { difference: { base: { this: {} } } }]) {
      rejects(() => TypeSystem.from(model({ viewer: rw as never }, { viewer: { directly_related_user_types: [{ type: "user" }] } })), "invalid_model");
    }
  });

  it("TypeSystem.compile (models read back from storage) re-checks what it compiles", () => {
    rejects(() => TypeSystem.compile(model({ viewer: {} }) as AuthorizationModel), "invalid_model", (err) => assert.ok(hasWhere(err.details, "doc#viewer")));
    rejects(
      () => TypeSystem.compile(model({ viewer: { this: {} } }, { viewer: { directly_related_user_types: [{ type: "user", condition: "zz" }] } }) as AuthorizationModel),
      "invalid_model",
      (err) => assert.ok(hasWhere(err.details, "doc#viewer")),
    );
  });

  it("TypeSystem.compile refuses a rewrite naming a relation that does not exist", () => {
    // The class comment says models from storage are validated again; a stored model whose
    // computed userset names a missing relation must not compile (it would break every query).
    const bad = model({ viewer: { computedUserset: { relation: "nope" } } }) as AuthorizationModel;
    rejects(() => {
      const ts = TypeSystem.compile(bad);
      new Engine().check(ts, { object: "doc:1", relation: "viewer", user: "user:a" });
    }, "invalid_model");
  });
});

describe("model: size limit", () => {
  function bigModel(types: number): AuthorizationModel {
    const tds: AuthorizationModel["type_definitions"] = [{ type: "user" }];
    for (let i = 0; i < types; i++) {
      tds.push({
        type: `type_with_a_reasonably_long_name_${i}`,
        relations: { viewer: { this: {} } },
        metadata: { relations: { viewer: { directly_related_user_types: [{ type: "user" }] } } },
      });
    }
    return { schema_version: "1.1", type_definitions: tds };
  }

  it("DSL larger than 256 KiB is refused", () => {
    assert.equal(MAX_MODEL_BYTES, 256 * 1024, "OpenFGA's limit");
    let dsl = "model\n  schema 1.1\ntype user\n";
    while (Buffer.byteLength(dsl) <= MAX_MODEL_BYTES) dsl += `type t_${dsl.length}\n  relations\n    define viewer: [user]\n`;
    rejects(() => parseDsl(dsl), "invalid_model", (err) => assert.match(err.message, /larger/));
  });

  it("a model just under the limit is accepted", () => {
    let dsl = "model\n  schema 1.1\ntype user\n";
    const chunk = (i: number): string => `type t_${i}\n  relations\n    define viewer: [user]\n`;
    let i = 0;
    while (Buffer.byteLength(dsl + chunk(i)) <= 64 * 1024) dsl += chunk(i++);
    assert.equal(TypeSystem.from(dsl).types.size, i + 1);
  });

  it("JSON text larger than 256 KiB is refused", () => {
    const text = JSON.stringify(bigModel(5000));
    assert.ok(Buffer.byteLength(text) > MAX_MODEL_BYTES);
    rejects(() => parseModel(text), "invalid_model", (err) => assert.match(err.message, /larger/));
  });

  it("a JSON object larger than 256 KiB is refused like its text", () => {
    const obj = bigModel(5000);
    assert.ok(Buffer.byteLength(JSON.stringify(obj)) > MAX_MODEL_BYTES);
    rejects(() => parseModel(obj), "invalid_model");
  });
});
