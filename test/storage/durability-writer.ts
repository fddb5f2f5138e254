/**
 * Child process for the kill -9 durability test: writes batches of tuples to the embedded
 * SQLite store in a loop and prints "ack <batch>" only after each write was acknowledged.
 * argv: dataDir storeId firstBatch
 */
import { openDatastore } from "../../src/storage/open.js";
import { PolicyService } from "../../src/policy/service.js";

const BATCH = 5;

const [dataDir, storeId, first] = process.argv.slice(2);
const ds = await openDatastore({ dataDir: dataDir! });
const svc = new PolicyService(ds);
for (let b = Number(first); ; b++) {
  const writes = Array.from({ length: BATCH }, (_, i) => ({ object: `doc:${b}`, relation: "viewer", user: `user:${i}` }));
  await svc.write(storeId!, { writes });
  process.stdout.write(`ack ${b}\n`);
}
