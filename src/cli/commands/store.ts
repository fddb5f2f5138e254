/**
 * `tenet store import --file F [--store-id ID]` and `tenet store export --store-id ID [--output F]`:
 * moves stores in OpenFGA's store file format (as `fga store import/export` use).
 */
import { readFile, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { PolicyService } from "../../policy/service.js";
import { exportStore, importStore, parseStoreFile } from "../../policy/store-file.js";
import type { Io } from "../main.js";
import { flagValue } from "./flags.js";
import { openConfigured } from "./open-storage.js";

const USAGE = "usage: tenet store import --file STORE.fga.yaml [--store-id ID] | tenet store export --store-id ID [--output FILE]\n";

export async function storeCommand(args: string[], io: Io): Promise<number> {
  const [sub] = args;
  if (sub !== "import" && sub !== "export") {
    io.err(USAGE);
    return 2;
  }
  const file = flagValue(args, "--file");
  const storeId = flagValue(args, "--store-id");
  if ((sub === "import" && !file) || (sub === "export" && !storeId)) {
    io.err(USAGE);
    return 2;
  }
  let text = "";
  if (sub === "import") {
    try {
      text = await readFile(file!, "utf8");
    } catch (err) {
      io.err(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
      return 1;
    }
  }
  const opened = await openConfigured(args, io, `store ${sub}`);
  if (!opened) return 1;
  const svc = new PolicyService(opened.ds);
  try {
    if (sub === "import") {
      const base = dirname(resolve(file!));
      const parsed = await parseStoreFile(text, (p) => readFile(resolve(base, p), "utf8"));
      const r = await importStore(svc, parsed, storeId);
      io.out(`imported ${r.tuples} tuples into store ${r.storeId} (model ${r.modelId})\n`);
    } else {
      const yaml = await exportStore(svc, storeId!);
      const out = flagValue(args, "--output");
      if (out) {
        await writeFile(out, yaml);
        io.out(`exported store ${storeId} to ${out}\n`);
      } else io.out(yaml);
    }
    return 0;
  } finally {
    await opened.ds.close();
  }
}
