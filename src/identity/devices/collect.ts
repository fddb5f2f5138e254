/**
 * The reference agent's look at its host (`tenet device report`): what an unprivileged process can
 * tell, and `unknown` for the rest. It never guesses "off" from a failed probe: a check is `off`
 * only when the probe ran and showed it off.
 *
 * Linux: OS from os-release(5); disk encryption `on` when a dm-crypt (LUKS) mapping exists
 * (`lsblk` TYPE `crypt`, or a /sys/block/dm-N/dm/uuid starting `CRYPT-`), otherwise `unknown`
 * (ZFS or fscrypt encryption and self-encrypting drives are invisible here); firewall from ufw's
 * configuration, or the nftables/iptables INPUT rules when they are readable (usually root only).
 * macOS: `sw_vers`, `fdesetup status`, the application firewall's global state. Screen lock is
 * `unknown` everywhere (a server has no screen; desktop settings are per session), and `managed`
 * is `unknown` unless the operator says so.
 *
 * All host access goes through a HostProbe, so the parsing can be tested with recorded outputs.
 */
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { release } from "node:os";
import type { CheckValue, Posture } from "./posture.js";

export interface HostProbe {
  platform: NodeJS.Platform;
  /** The kernel release (`os.release()`). */
  kernel: string;
  /** A file's text, or undefined when it cannot be read. */
  readFile(path: string): Promise<string | undefined>;
  /** A directory's entries, or undefined when it cannot be read. */
  readDir(path: string): Promise<string[] | undefined>;
  /** Runs a program (no shell); stdout when it exits 0, undefined otherwise. */
  run(program: string, args: string[]): Promise<string | undefined>;
}

/** Where programs are looked for besides PATH: unprivileged users often lack the sbin dirs. */
const SBIN = ["/usr/sbin", "/sbin"];

export const hostProbe: HostProbe = {
  platform: process.platform,
  kernel: release(),
  readFile: (path) => readFile(path, "utf8").catch(() => undefined),
  readDir: (path) => readdir(path).catch(() => undefined),
  run: async (program, args) => {
    const candidates = program.includes("/") ? [program] : [program, ...SBIN.map((d) => `${d}/${program}`)];
    for (const p of candidates) {
      const out = await new Promise<string | undefined | null>((resolve) => {
        execFile(p, args, { timeout: 3000, maxBuffer: 4 * 1024 * 1024, env: { ...process.env, LC_ALL: "C" } }, (err, stdout) => {
          // null: not found here, try the next place; undefined: it ran and failed.
          if (err) resolve((err as NodeJS.ErrnoException).code === "ENOENT" ? null : undefined);
          else resolve(stdout);
        });
      });
      if (out !== null) return out;
    }
    return undefined;
  },
};

/** os-release(5): `KEY=value` lines, values optionally quoted. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!m) continue;
    let v = m[2]!.trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1).replace(/\\(["'$`\\])/g, "$1");
    out[m[1]!] = v;
  }
  return out;
}

/** Keeps what the posture schema accepts of a name or version the host reported. */
function clean(s: string | undefined, fallback: string): string {
  const t = (s ?? "").replace(/[^A-Za-z0-9 ._()+-]/g, "").trim().slice(0, 64);
  return /^[A-Za-z0-9]/.test(t) ? t : fallback;
}

async function osOf(p: HostProbe): Promise<Posture["os"]> {
  if (p.platform === "linux") {
    const text = (await p.readFile("/etc/os-release")) ?? (await p.readFile("/usr/lib/os-release"));
    if (text !== undefined) {
      const r = parseOsRelease(text);
      return { name: clean(r.ID, "linux"), version: clean(r.VERSION_ID, "unknown") };
    }
    return { name: "linux", version: clean(p.kernel, "unknown") };
  }
  if (p.platform === "darwin") return { name: "macos", version: clean((await p.run("sw_vers", ["-productVersion"]))?.trim(), "unknown") };
  if (p.platform === "win32") return { name: "windows", version: clean(p.kernel, "unknown") };
  return { name: clean(p.platform, "unknown"), version: clean(p.kernel, "unknown") };
}

/** `lsblk -rno TYPE`: one device type per line; `crypt` is a dm-crypt mapping. */
export function lsblkHasCrypt(text: string): boolean {
  return text.split("\n").some((l) => l.trim() === "crypt");
}

async function diskEncryptionOf(p: HostProbe): Promise<CheckValue> {
  if (p.platform === "linux") {
    const lsblk = await p.run("lsblk", ["-rno", "TYPE"]);
    if (lsblk !== undefined && lsblkHasCrypt(lsblk)) return "on";
    for (const dm of (await p.readDir("/sys/block")) ?? []) {
      if (!dm.startsWith("dm-")) continue;
      const uuid = await p.readFile(`/sys/block/${dm}/dm/uuid`);
      if (uuid?.startsWith("CRYPT-")) return "on";
    }
    return "unknown";
  }
  if (p.platform === "darwin") {
    const out = await p.run("fdesetup", ["status"]);
    if (out && /FileVault is On/i.test(out)) return "on";
    if (out && /FileVault is Off/i.test(out)) return "off";
  }
  return "unknown";
}

/**
 * `nft list ruleset`: on when a chain hooked on input drops by default or holds rules; off when
 * no input chain does either.
 */
export function nftInputFiltered(text: string): boolean {
  let inChain = false;
  let inputChain = false;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (/^chain\s/.test(line)) {
      inChain = true;
      inputChain = false;
      continue;
    }
    if (!inChain || line === "" || line.startsWith("#")) continue;
    if (line === "}") {
      inChain = false;
      continue;
    }
    if (/^type\s+filter\s+hook\s+input\b/.test(line)) {
      inputChain = true;
      if (/policy\s+drop/.test(line)) return true;
      continue;
    }
    if (inputChain) return true;
  }
  return false;
}

/** `iptables -S INPUT`: on when INPUT drops by default or has rules. */
export function iptablesInputFiltered(text: string): boolean {
  return text.split("\n").some((l) => /^-P INPUT (DROP|REJECT)\b/.test(l.trim()) || /^-A INPUT\s/.test(l.trim()));
}

async function firewallOf(p: HostProbe): Promise<CheckValue> {
  if (p.platform === "linux") {
    const ufw = await p.readFile("/etc/ufw/ufw.conf");
    if (ufw !== undefined && /^\s*ENABLED\s*=\s*yes\s*$/im.test(ufw)) return "on";
    const nft = await p.run("nft", ["list", "ruleset"]);
    if (nft !== undefined && nftInputFiltered(nft)) return "on";
    const ipt = await p.run("iptables", ["-S", "INPUT"]);
    if (ipt !== undefined && iptablesInputFiltered(ipt)) return "on";
    // Off only when a rule set was actually read and shows nothing filtering input.
    return nft !== undefined || ipt !== undefined ? "off" : "unknown";
  }
  if (p.platform === "darwin") {
    const out = await p.run("/usr/libexec/ApplicationFirewall/socketfilterfw", ["--getglobalstate"]);
    // "Firewall is enabled. (State = 1)"; 2 is "block all incoming"; 0 is off.
    const state = out ? /State = (\d)/.exec(out)?.[1] : undefined;
    if (state === "1" || state === "2" || (state === undefined && out && /\benabled\b/i.test(out))) return "on";
    if (state === "0" || (state === undefined && out && /\bdisabled\b/i.test(out))) return "off";
  }
  return "unknown";
}

/** Looks at the host now. */
export async function collectPosture(opts: { probe?: HostProbe; managed?: boolean; now?: () => number } = {}): Promise<Posture> {
  const p = opts.probe ?? hostProbe;
  const [os, diskEncryption, firewall] = await Promise.all([osOf(p), diskEncryptionOf(p), firewallOf(p)]);
  return {
    os,
    diskEncryption,
    screenLock: "unknown",
    firewall,
    managed: opts.managed === true ? true : "unknown",
    collectedAt: new Date((opts.now ?? Date.now)()).toISOString(),
  };
}
