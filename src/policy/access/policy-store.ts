/**
 * Versioned access-policy sets, per relationship store, over the documents storage. Every apply
 * validates and compiles the whole set first (nothing half-applied), then stores it as a new
 * numbered version holding the source files as given. A store's head names its live version and,
 * optionally, a shadow version (evaluated beside the live one, never enforced). History, diff and
 * rollback (a new version with an old version's content) work on those records.
 */
import type { ChangeRecorder } from "../../audit/change-recorder.js";
import type { RelationModel } from "./relations.js";
import { TenetError } from "../../errors.js";
import { DocumentConflict, type DocumentsBackend } from "../../storage/interfaces.js";
import { compilePolicySet, type CompiledPolicySet } from "./compile.js";
import { parseSources, type PolicySource } from "./files.js";

const VERSIONS = "access-policy-versions";
const HEADS = "access-policy-heads";

export interface PolicyVersion {
  storeId: string;
  version: number;
  appliedAt: string;
  appliedBy: string;
  comment: string;
  sources: PolicySource[];
  /** Names of the policies, in order. */
  policies: string[];
  /** Set when this version restored an earlier one. */
  restoredFrom?: number;
}

export interface PolicyHead {
  live: number | undefined;
  shadow: number | undefined;
}

export interface PolicyDiff {
  from: number;
  to: number;
  added: string[];
  removed: string[];
  changed: Array<{ policy: string; before: string; after: string }>;
}

const versionId = (storeId: string, v: number): string => `${storeId}/${String(v).padStart(10, "0")}`;

/** The YAML text of each policy of a version, by name (documents split on `---`). */
function policyTexts(v: PolicyVersion): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of v.sources) {
    for (const chunk of s.text.split(/^---\s*$/m)) {
      const name = /^\s*name:\s*["']?([a-z0-9-]+)/m.exec(chunk.slice(chunk.indexOf("metadata:")))?.[1];
      if (name && chunk.includes("kind: AccessPolicy")) out.set(name, chunk.trim());
    }
  }
  return out;
}

/** Parses, validates and compiles a set of policy files; throws with every problem found. */
export function validatePolicySources(sources: PolicySource[], model?: RelationModel): CompiledPolicySet {
  if (sources.length === 0) throw new TenetError("validation_error", "no access-policy files were given");
  const { policies, problems } = parseSources(sources);
  if (policies.length === 0 && problems.length === 0) throw new TenetError("validation_error", "the files hold no access policy");
  return compilePolicySet(policies, problems, model);
}

export class AccessPolicyStore {
  constructor(
    private readonly docs: DocumentsBackend,
    /** Records applies, rollbacks and promotions in the audit log (when one is configured). */
    private readonly changes?: ChangeRecorder,
  ) {}

  /**
   * Validates and compiles without storing (`--dry-run`, and the first step of apply). With the
   * store's model, the relations rules ask about are checked too.
   */
  validate(sources: PolicySource[], model?: RelationModel): CompiledPolicySet {
    return validatePolicySources(sources, model);
  }

  async head(storeId: string): Promise<PolicyHead> {
    const h = await this.docs.getDocument<PolicyHead>(HEADS, storeId);
    return { live: h?.body.live, shadow: h?.body.shadow };
  }

  async version(storeId: string, v: number): Promise<PolicyVersion> {
    const d = await this.docs.getDocument<PolicyVersion>(VERSIONS, versionId(storeId, v));
    if (!d) throw new TenetError("not_found", `access-policy version ${v} of store ${storeId} does not exist`);
    return d.body;
  }

  async history(storeId: string, opts: { after?: number; limit?: number } = {}): Promise<PolicyVersion[]> {
    const list = await this.docs.listDocuments<PolicyVersion>(VERSIONS, {
      prefix: `${storeId}/`,
      ...(opts.after !== undefined ? { after: versionId(storeId, opts.after) } : {}),
      limit: opts.limit ?? 100,
    });
    return list.map((d) => d.body);
  }

  /**
   * Applies a set: validated and compiled first, then stored as the next version and made live
   * (or the shadow). Returns the version and the compiled set.
   */
  async apply(storeId: string, sources: PolicySource[], opts: { mode?: "live" | "shadow"; appliedBy?: string; comment?: string; restoredFrom?: number; model?: RelationModel | undefined } = {}): Promise<{ version: PolicyVersion; compiled: CompiledPolicySet }> {
    const compiled = this.validate(sources, opts.model);
    for (let attempt = 0; attempt < 5; attempt++) {
      const headDoc = await this.docs.getDocument<PolicyHead & { latest: number }>(HEADS, storeId);
      const latest = headDoc?.body.latest ?? 0;
      const next = latest + 1;
      const version: PolicyVersion = {
        storeId,
        version: next,
        appliedAt: new Date().toISOString(),
        appliedBy: opts.appliedBy ?? "unknown",
        comment: opts.comment ?? "",
        sources: sources.map((s) => ({ file: s.file, text: s.text })),
        policies: compiled.policies.map((p) => p.name),
        ...(opts.restoredFrom !== undefined ? { restoredFrom: opts.restoredFrom } : {}),
      };
      try {
        // The version record first: a head never names a version that is not stored.
        await this.docs.putDocument(VERSIONS, versionId(storeId, next), version, 0);
      } catch (err) {
        if (err instanceof DocumentConflict) continue; // another apply took this number
        throw err;
      }
      const body = {
        latest: next,
        live: opts.mode === "shadow" ? headDoc?.body.live : next,
        shadow: opts.mode === "shadow" ? next : undefined,
      };
      try {
        await this.docs.putDocument(HEADS, storeId, body, headDoc?.version ?? 0);
        await this.changes?.record({
          type: "access_policy.apply",
          activity: "update",
          storeId,
          entity: { type: "access_policy_set", uid: storeId, version: String(version.version) },
          details: { mode: opts.mode ?? "live", policies: version.policies, comment: opts.comment, restored_from: opts.restoredFrom },
        });
        return { version, compiled };
      } catch (err) {
        if (!(err instanceof DocumentConflict)) throw err;
        await this.docs.deleteDocument(VERSIONS, versionId(storeId, next));
      }
    }
    throw new TenetError("write_conflict", "access policies were applied concurrently; retry");
  }

  /** Makes an earlier version live again, as a new version (history is never rewritten). */
  async rollback(storeId: string, to: number, appliedBy?: string): Promise<PolicyVersion> {
    const old = await this.version(storeId, to);
    const { version } = await this.apply(storeId, old.sources, { appliedBy: appliedBy ?? "unknown", comment: `rollback to version ${to}`, restoredFrom: to });
    return version;
  }

  /** Makes the shadow version live (only if it is `expected`, when given: the version reviewed). */
  async promote(storeId: string, expected?: number): Promise<number> {
    const headDoc = await this.docs.getDocument<PolicyHead & { latest: number }>(HEADS, storeId);
    const shadow = headDoc?.body.shadow;
    if (!headDoc || shadow === undefined) throw new TenetError("validation_error", "this store has no shadow access policies to promote");
    if (expected !== undefined && expected !== shadow) {
      throw new TenetError("conflict", `the shadow version is ${shadow}, not ${expected}: review it before promoting`);
    }
    await this.docs.putDocument(HEADS, storeId, { latest: headDoc.body.latest, live: shadow, shadow: undefined }, headDoc.version);
    await this.changes?.record({ type: "access_policy.promote", activity: "update", storeId, entity: { type: "access_policy_set", uid: storeId, version: String(shadow) }, details: { previous_live: headDoc.body.live } });
    return shadow;
  }

  /** Stops evaluating the shadow version. */
  async dropShadow(storeId: string): Promise<void> {
    const headDoc = await this.docs.getDocument<PolicyHead & { latest: number }>(HEADS, storeId);
    if (!headDoc || headDoc.body.shadow === undefined) return;
    await this.docs.putDocument(HEADS, storeId, { latest: headDoc.body.latest, live: headDoc.body.live, shadow: undefined }, headDoc.version);
  }

  async diff(storeId: string, from: number, to: number): Promise<PolicyDiff> {
    const [a, b] = [policyTexts(await this.version(storeId, from)), policyTexts(await this.version(storeId, to))];
    const out: PolicyDiff = { from, to, added: [], removed: [], changed: [] };
    for (const [name, text] of b) {
      const before = a.get(name);
      if (before === undefined) out.added.push(name);
      else if (before !== text) out.changed.push({ policy: name, before, after: text });
    }
    for (const name of a.keys()) if (!b.has(name)) out.removed.push(name);
    return out;
  }

  /** The compiled set of a version (versions are immutable, so callers may cache it). */
  async compiled(storeId: string, v: number): Promise<CompiledPolicySet> {
    return this.validate((await this.version(storeId, v)).sources);
  }
}
