/**
 * The keys that sign the provider's cookies (and derive the sign-in pages' CSRF tokens): random,
 * made once per deployment, sealed with the master key, shared by every replica.
 */
import { randomBytes } from "node:crypto";
import type { MasterKey, SealedBox } from "../../crypto/master-key.js";
import { DocumentConflict, type DocumentsBackend } from "../../storage/interfaces.js";

const COLLECTION = "identity.secrets";
const ID = "cookie-keys";
const PURPOSE = "tenet/oidc-cookie-keys/v1";

export async function loadCookieKeys(docs: DocumentsBackend, master: MasterKey): Promise<string[]> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const r = await docs.getDocument<{ sealed: SealedBox }>(COLLECTION, ID);
    if (r) return JSON.parse(master.open(PURPOSE, r.body.sealed).toString("utf8")) as string[];
    const keys = [randomBytes(32).toString("base64url")];
    try {
      await docs.putDocument(COLLECTION, ID, { sealed: master.seal(PURPOSE, Buffer.from(JSON.stringify(keys))) }, 0);
      return keys;
    } catch (err) {
      if (!(err instanceof DocumentConflict)) throw err;
    }
  }
  throw new Error("cookie keys: could not load or create");
}
