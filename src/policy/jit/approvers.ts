/**
 * Turns an approver specification into concrete user ids, from the relationship graph as it is
 * when the request is made (the ids are stored with the request, so a later change to a group
 * does not change who may decide it).
 */
import { TenetError } from "../../errors.js";
import type { PolicyService } from "../service.js";
import { parseUser } from "../tuples/tuple.js";
import type { ApproverSpec } from "./types.js";
import { object, subject } from "./validate.js";

export interface ApproverOptions {
  /** The group relation whose users are members (default `member`). */
  groupRelation: string;
  /** The relation on the requester's type that names their manager (default `manager`). */
  managerRelation: string;
  /** At most this many approvers in a specification and after resolution. */
  max: number;
}

export const DEFAULT_APPROVER_OPTIONS: ApproverOptions = { groupRelation: "member", managerRelation: "manager", max: 100 };

/** Checks the shape of a specification (before any lookup). */
export function validateApproverSpec(spec: ApproverSpec | undefined, where: string, max: number): ApproverSpec {
  if (typeof spec !== "object" || spec === null) throw new TenetError("validation_error", `${where} must be an object with users, groups and/or manager`);
  const out: ApproverSpec = {};
  if (spec.users !== undefined) {
    if (!Array.isArray(spec.users) || spec.users.length > max) throw new TenetError("validation_error", `${where}.users must be a list of at most ${max} users`);
    out.users = spec.users.map((u, i) => subject(u, `${where}.users[${i}]`));
  }
  if (spec.groups !== undefined) {
    if (!Array.isArray(spec.groups) || spec.groups.length > max) throw new TenetError("validation_error", `${where}.groups must be a list of at most ${max} groups`);
    out.groups = spec.groups.map((g, i) => object(g, `${where}.groups[${i}]`));
  }
  if (spec.manager !== undefined) {
    if (typeof spec.manager !== "boolean") throw new TenetError("validation_error", `${where}.manager must be true or false`);
    out.manager = spec.manager;
  }
  return out;
}

/**
 * The approvers named by `spec`, sorted, without duplicates and without the requester (who may
 * never decide their own request). Approvers are subjects of the requester's type.
 */
export async function resolveApprovers(
  policy: Pick<PolicyService, "listUsers">,
  storeId: string,
  requester: string,
  spec: ApproverSpec,
  opts: ApproverOptions = DEFAULT_APPROVER_OPTIONS,
): Promise<string[]> {
  const type = parseUser(requester).type;
  const found = new Set<string>();
  for (const u of spec.users ?? []) found.add(u);
  const lookup = async (object: string, relation: string, what: string): Promise<void> => {
    let users: string[];
    try {
      users = await policy.listUsers(storeId, { object, relation, userFilters: [{ type }] });
    } catch (err) {
      if (err instanceof TenetError && err.status < 500 && err.code !== "store_not_found") {
        throw new TenetError("validation_error", `cannot resolve ${what}: ${err.message}`, { cause: err });
      }
      throw err;
    }
    // A typed wildcard (`user:*`) means "anyone": never a set of approvers.
    for (const u of users) if (!u.endsWith(":*")) found.add(u);
  };
  for (const g of spec.groups ?? []) await lookup(g, opts.groupRelation, `the members of '${g}' (relation '${opts.groupRelation}')`);
  if (spec.manager) {
    await lookup(requester, opts.managerRelation, `the manager of '${requester}' (the model needs a '${opts.managerRelation}' relation on type '${type}')`);
  }
  found.delete(requester);
  if (found.size > opts.max) {
    throw new TenetError("validation_error", `the approvers resolve to ${found.size} users; at most ${opts.max} may be named`);
  }
  return [...found].sort();
}
