/**
 * A grant's conditional tuple in the relationship store: whether it can be written, writing it,
 * deleting it. Only the tuple a grant wrote is ever deleted; a tuple with the same object, relation
 * and user that something else wrote is left alone (and the grant is then enforced through the
 * access policy only). An expired grant tuple not yet swept is replaced.
 */
import { TenetError } from "../../errors.js";
import type { PolicyService } from "../service.js";
import { tupleKeyString, type TupleKey } from "../tuples/tuple.js";
import { validateTuple } from "../tuples/validate.js";
import { JIT_GRANT_CONDITION_NAME, grantKey, grantTuple, isGrantTuple } from "./condition.js";
import type { JitRequest, TupleOutcome } from "./types.js";

type Access = { storeId: string; requester: string; resource: string; action: string };

export class GrantTuples {
  constructor(
    private readonly policy: PolicyService,
    private readonly now: () => number,
  ) {}

  /** Whether the grant's tuple can be written; why not, when not. */
  async plan(r: Access, expiresAt: string): Promise<TupleOutcome> {
    const tuple = grantTuple(r, expiresAt);
    try {
      const { ts } = await this.policy.typeSystem(r.storeId);
      validateTuple(ts, tuple);
    } catch (err) {
      if (!(err instanceof TenetError) || err.status >= 500) throw err;
      return {
        written: false,
        reason: `the store's model does not accept the grant's tuple (${err.message}); let the relation accept 'user with ${JIT_GRANT_CONDITION_NAME}' to have checks see it. The grant is enforced through the access policy only`,
      };
    }
    const existing = await this.existing(r);
    if (existing && !isExpiredGrantTuple(existing, this.now())) return { written: false, reason: otherTupleReason(existing) };
    return { written: true };
  }

  /** Writes the grant's tuple (replacing an expired grant tuple); returns why it could not. */
  async write(r: JitRequest): Promise<string | undefined> {
    const tuple = grantTuple(r, r.grant!.expiresAt);
    try {
      const existing = await this.existing(r);
      if (existing && isGrantTuple(existing, r.grant!.expiresAt)) return undefined;
      if (existing && !isExpiredGrantTuple(existing, this.now())) return otherTupleReason(existing);
      await this.policy.write(r.storeId, existing ? { deletes: [grantKey(r)], writes: [tuple] } : { writes: [tuple], onDuplicate: "ignore" });
      return undefined;
    } catch (err) {
      if (err instanceof TenetError && err.status < 500) return `the grant's tuple could not be written: ${err.message}. The grant is enforced through the access policy only`;
      throw err;
    }
  }

  /** Deletes the grant's tuple, only if it is still the one this grant wrote. */
  async delete(r: JitRequest): Promise<void> {
    try {
      const existing = await this.existing(r);
      if (!existing || !isGrantTuple(existing, r.grant!.expiresAt)) return;
      await this.policy.write(r.storeId, { deletes: [grantKey(r)], onMissing: "ignore" });
    } catch (err) {
      // A deleted store has no tuples left to clean up.
      if (!(err instanceof TenetError && err.code === "store_not_found")) throw err;
    }
  }

  private async existing(r: Access): Promise<TupleKey | undefined> {
    const page = await this.policy.read(r.storeId, grantKey(r), { pageSize: 1 });
    return page.items[0]?.key;
  }
}

function isExpiredGrantTuple(t: TupleKey, now: number): boolean {
  const at = t.condition?.name === JIT_GRANT_CONDITION_NAME ? t.condition.context?.grant_expires_at : undefined;
  return typeof at === "string" && Date.parse(at) <= now;
}

function otherTupleReason(t: TupleKey): string {
  return `a tuple '${tupleKeyString(t)}' exists already and is left unchanged; the grant is enforced through the access policy only`;
}
