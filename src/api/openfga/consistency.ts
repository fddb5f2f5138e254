/**
 * Consistency for queries: a request carrying a consistency token (the revision a write
 * returned) or asking for HIGHER_CONSISTENCY is answered from an index at least that fresh.
 * The replica waits briefly for its index to catch up, then fails with a retryable 503 rather
 * than answer from stale state (a stale "allow" is the new-enemy problem).
 */
import { TenetError } from "../../errors.js";
import type { PolicyService } from "../../policy/service.js";

const WAIT_MS = 2000;

/**
 * Resolves once the store's index is fresh enough for `req`; undefined (no promise to await)
 * when the request asks for no particular freshness, as most do.
 */
export function ensureFresh(
  policy: PolicyService,
  storeId: string,
  req: { consistency?: string | undefined; consistency_token?: string | undefined },
): Promise<void> | undefined {
  if (req.consistency_token !== undefined) return waitForToken(policy, storeId, Number(req.consistency_token));
  if (req.consistency === "HIGHER_CONSISTENCY") return policy.refresh(storeId).then(() => undefined);
  return undefined;
}

async function waitForToken(policy: PolicyService, storeId: string, revision: number): Promise<void> {
  if (!(await policy.waitForRevision(storeId, revision, WAIT_MS))) {
    throw new TenetError("unavailable", `this replica has not yet caught up with revision ${revision}; retry`);
  }
}
