/**
 * The agent's host probes, fed recorded outputs of real tools (os-release, lsblk, nft, iptables,
 * ufw, fdesetup) through a HostProbe: what each shows, and `unknown` whenever a probe cannot run.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { collectPosture, iptablesInputFiltered, lsblkHasCrypt, nftInputFiltered, parseOsRelease, type HostProbe } from "../../../src/identity/devices/collect.js";
import { parsePosture } from "../../../src/identity/devices/posture.js";

const DEBIAN = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
`;

const NFT_DROP = `table inet filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		iif "lo" accept
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
	}
	chain output {
		type filter hook output priority filter; policy accept;
	}
}
`;
const NFT_RULES_ACCEPT = `table inet filter {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 22 accept
		counter drop
	}
}
`;
// What Docker alone leaves: NAT and forward rules, nothing filtering input.
const NFT_DOCKER_ONLY = `table ip nat {
	chain POSTROUTING {
		type nat hook postrouting priority srcnat; policy accept;
		oifname != "docker0" ip saddr 172.17.0.0/16 counter masquerade
	}
}
table ip filter {
	chain FORWARD {
		type filter hook forward priority filter; policy drop;
		counter jump DOCKER-USER
	}
	chain INPUT {
		type filter hook input priority filter; policy accept;
	}
}
`;

const LSBLK_LUKS = "disk\npart\npart\ncrypt\nlvm\nlvm\n";
const LSBLK_PLAIN = "disk\npart\npart\nloop\n";

/** A host made of recorded outputs: files, directories and program outputs by command line. */
function host(opts: { platform?: NodeJS.Platform; files?: Record<string, string>; dirs?: Record<string, string[]>; programs?: Record<string, string> }): HostProbe {
  return {
    platform: opts.platform ?? "linux",
    kernel: "6.1.0-18-amd64",
    readFile: async (p) => opts.files?.[p],
    readDir: async (p) => opts.dirs?.[p],
    run: async (program, args) => opts.programs?.[[program, ...args].join(" ")],
  };
}

describe("parsers", () => {
  it("reads os-release, quoted or not", () => {
    const r = parseOsRelease(DEBIAN);
    assert.equal(r.ID, "debian");
    assert.equal(r.VERSION_ID, "12");
    assert.equal(r.PRETTY_NAME, "Debian GNU/Linux 12 (bookworm)");
    assert.deepEqual(parseOsRelease("ID='arch'\n# comment\nBUILD_ID=rolling\ngarbage line\n"), { ID: "arch", BUILD_ID: "rolling" });
  });

  it("finds dm-crypt mappings in lsblk output", () => {
    assert.equal(lsblkHasCrypt(LSBLK_LUKS), true);
    assert.equal(lsblkHasCrypt(LSBLK_PLAIN), false);
    assert.equal(lsblkHasCrypt(""), false);
  });

  it("tells whether nftables filters input", () => {
    assert.equal(nftInputFiltered(NFT_DROP), true);
    assert.equal(nftInputFiltered(NFT_RULES_ACCEPT), true);
    assert.equal(nftInputFiltered(NFT_DOCKER_ONLY), false);
    assert.equal(nftInputFiltered(""), false);
  });

  it("tells whether iptables filters input", () => {
    assert.equal(iptablesInputFiltered("-P INPUT ACCEPT\n"), false);
    assert.equal(iptablesInputFiltered("-P INPUT DROP\n"), true);
    assert.equal(iptablesInputFiltered("-P INPUT ACCEPT\n-A INPUT -p tcp --dport 22 -j ACCEPT\n"), true);
  });
});

describe("collectPosture", () => {
  const at = Date.parse("2026-03-02T10:00:00Z");

  it("reports a LUKS host with a dropping nftables input chain", async () => {
    const p = await collectPosture({
      probe: host({ files: { "/etc/os-release": DEBIAN }, programs: { "lsblk -rno TYPE": LSBLK_LUKS, "nft list ruleset": NFT_DROP } }),
      now: () => at,
    });
    assert.deepEqual(p, {
      os: { name: "debian", version: "12" },
      diskEncryption: "on",
      screenLock: "unknown",
      firewall: "on",
      managed: "unknown",
      collectedAt: "2026-03-02T10:00:00.000Z",
    });
    assert.deepEqual(parsePosture(p), p);
  });

  it("says unknown, never off, when a probe cannot run (an unprivileged user, a container)", async () => {
    const p = await collectPosture({ probe: host({ files: {}, programs: {} }), now: () => at });
    assert.deepEqual(p.os, { name: "linux", version: "6.1.0-18-amd64" });
    assert.equal(p.diskEncryption, "unknown");
    assert.equal(p.firewall, "unknown");
    // No crypt device found is not proof of no encryption either.
    assert.equal((await collectPosture({ probe: host({ programs: { "lsblk -rno TYPE": LSBLK_PLAIN } }) })).diskEncryption, "unknown");
  });

  it("finds dm-crypt through /sys when lsblk is missing", async () => {
    const probe = host({ dirs: { "/sys/block": ["loop0", "vda", "dm-0", "dm-1"] }, files: { "/sys/block/dm-0/dm/uuid": "LVM-abc\n", "/sys/block/dm-1/dm/uuid": "CRYPT-LUKS2-0123abcd-root\n" } });
    assert.equal((await collectPosture({ probe })).diskEncryption, "on");
  });

  it("reads the firewall from ufw, nftables or iptables; off only when a rule set was read", async () => {
    const fw = async (h: Parameters<typeof host>[0]) => (await collectPosture({ probe: host(h) })).firewall;
    assert.equal(await fw({ files: { "/etc/ufw/ufw.conf": "# ufw\nENABLED=yes\nLOGLEVEL=low\n" } }), "on");
    assert.equal(await fw({ files: { "/etc/ufw/ufw.conf": "ENABLED=no\n" } }), "unknown");
    assert.equal(await fw({ programs: { "nft list ruleset": NFT_DOCKER_ONLY } }), "off");
    assert.equal(await fw({ programs: { "nft list ruleset": "", "iptables -S INPUT": "-P INPUT DROP\n" } }), "on");
    assert.equal(await fw({ programs: { "iptables -S INPUT": "-P INPUT ACCEPT\n" } }), "off");
  });

  it("keeps odd os-release values within what the schema accepts", async () => {
    const p = await collectPosture({ probe: host({ files: { "/etc/os-release": 'ID="opensuse-tumbleweed"\nVERSION_ID="20260301"\n' } }) });
    assert.deepEqual(p.os, { name: "opensuse-tumbleweed", version: "20260301" });
    const weird = await collectPosture({ probe: host({ files: { "/etc/os-release": 'ID="$(rm -rf)"\n' } }) });
    assert.deepEqual(parsePosture(weird), weird);
    assert.equal(weird.os.version, "unknown");
  });

  it("reports macOS from sw_vers, fdesetup and the application firewall", async () => {
    const p = await collectPosture({
      probe: host({
        platform: "darwin",
        programs: {
          "sw_vers -productVersion": "14.4.1\n",
          "fdesetup status": "FileVault is On.\n",
          "/usr/libexec/ApplicationFirewall/socketfilterfw --getglobalstate": "Firewall is disabled. (State = 0)\n",
        },
      }),
      managed: true,
    });
    assert.deepEqual({ os: p.os, d: p.diskEncryption, f: p.firewall, m: p.managed }, { os: { name: "macos", version: "14.4.1" }, d: "on", f: "off", m: true });
    const blocking = await collectPosture({
      probe: host({ platform: "darwin", programs: { "/usr/libexec/ApplicationFirewall/socketfilterfw --getglobalstate": "Firewall is blocking all non-essential incoming connections. (State = 2)\n", "fdesetup status": "FileVault is Off.\n" } }),
    });
    assert.deepEqual([blocking.firewall, blocking.diskEncryption, blocking.os.version], ["on", "off", "unknown"]);
  });

  it("reports other platforms by name and kernel, everything else unknown", async () => {
    const p = await collectPosture({ probe: host({ platform: "win32" }) });
    assert.deepEqual([p.os.name, p.diskEncryption, p.firewall, p.screenLock], ["windows", "unknown", "unknown", "unknown"]);
  });
});
