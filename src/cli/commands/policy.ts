/**
 * `tenet policy apply -f PATH... --store ID [--shadow] [--dry-run] [--comment TEXT]`,
 * `tenet policy history|diff|rollback|promote --store ID`: access policies kept in Git, applied
 * to the configured database (a running server picks changes up within a second).
 */
import { AccessPolicyStore, validatePolicySources } from "../../policy/access/policy-store.js";
import { readPolicySources } from "../../policy/access/files.js";
import { PolicyService } from "../../policy/service.js";
import type { Io } from "../main.js";
import { flagValue } from "./flags.js";
import { openConfigured } from "./open-storage.js";

const USAGE = `usage: tenet policy apply -f FILE_OR_DIR [-f ...] --store ID [--shadow] [--dry-run] [--comment TEXT]
       tenet policy validate -f FILE_OR_DIR [-f ...]
       tenet policy history --store ID
       tenet policy diff --store ID --from N --to M
       tenet policy rollback --store ID --to N
       tenet policy promote --store ID
`;

function paths(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) if ((args[i] === "-f" || args[i] === "--file") && args[i + 1]) out.push(args[++i]!);
  return out;
}

export async function policyCommand(args: string[], io: Io): Promise<number> {
  const [sub] = args;
  const storeId = flagValue(args, "--store");
  const files = paths(args);
  if (sub === "validate" || (sub === "apply" && args.includes("--dry-run"))) {
    if (files.length === 0) {
      io.err(USAGE);
      return 2;
    }
    const compiled = validatePolicySources(readPolicySources(files));
    io.out(`valid: ${compiled.policies.length} access policies (${compiled.policies.map((p) => p.name).join(", ")})\n`);
    return 0;
  }
  if (!["apply", "history", "diff", "rollback", "promote"].includes(sub ?? "") || !storeId || (sub === "apply" && files.length === 0)) {
    io.err(USAGE);
    return 2;
  }
  const sources = sub === "apply" ? readPolicySources(files) : [];
  const opened = await openConfigured(args, io, `policy ${sub}`);
  if (!opened) return 1;
  try {
    const service = new PolicyService(opened.ds);
    await service.getStore(storeId);
    const store = new AccessPolicyStore(opened.ds);
    switch (sub) {
      case "apply": {
        const mode = args.includes("--shadow") ? "shadow" : "live";
        const model = await service.latestTypeSystem(storeId);
        const { version } = await store.apply(storeId, sources, { mode, appliedBy: `cli:${process.env.USER ?? "unknown"}`, comment: flagValue(args, "--comment") ?? "", model });
        io.out(`applied version ${version.version} (${mode}): ${version.policies.length} access policies\n`);
        return 0;
      }
      case "history":
        for (const v of await store.history(storeId, { limit: 1000 })) {
          io.out(`${v.version}\t${v.appliedAt}\t${v.appliedBy}\t${v.policies.length} policies${v.restoredFrom ? `\t(restores ${v.restoredFrom})` : ""}\t${v.comment}\n`);
        }
        return 0;
      case "diff": {
        const d = await store.diff(storeId, Number(flagValue(args, "--from")), Number(flagValue(args, "--to")));
        for (const n of d.added) io.out(`+ ${n}\n`);
        for (const n of d.removed) io.out(`- ${n}\n`);
        for (const c of d.changed) io.out(`~ ${c.policy}\n--- version ${d.from}\n${c.before}\n+++ version ${d.to}\n${c.after}\n`);
        return 0;
      }
      case "rollback": {
        const v = await store.rollback(storeId, Number(flagValue(args, "--to")), `cli:${process.env.USER ?? "unknown"}`);
        io.out(`version ${v.version} restores version ${v.restoredFrom}\n`);
        return 0;
      }
      default: {
        const live = await store.promote(storeId);
        io.out(`version ${live} is live\n`);
        return 0;
      }
    }
  } finally {
    await opened.ds.close();
  }
}
