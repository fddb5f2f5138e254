/**
 * Which callers may speak for the client: ext_authz takes the client's address and the original
 * host and scheme from `X-Forwarded-*` only when the connection comes from one of these networks
 * (the Envoy sidecars or gateways). From anyone else those headers are dropped and the socket's
 * own address is the client's, so a client that reaches the check endpoint directly (or through
 * the proxy) cannot choose the address a network-zone rule sees.
 */
import { compareWords, type IpRange, parseCidr, parseIp } from "../policy/risk/ip.js";
import { TenetError } from "../errors.js";

/** Loopback only, unless configured: Envoy as a sidecar on the same host. */
export const DEFAULT_TRUSTED_PEERS = ["127.0.0.0/8", "::1/128"];

export class TrustedPeers {
  private readonly ranges: IpRange[];

  constructor(cidrs: readonly string[] = DEFAULT_TRUSTED_PEERS) {
    this.ranges = cidrs.map((c, i) => {
      const r = parseCidr(c);
      if (!r) throw new TenetError("validation_error", `proxy.extAuthz.trustedPeers.${i}: '${c}' is not an address or CIDR range`);
      return r;
    });
  }

  trusts(address: string | undefined): boolean {
    const ip = address ? parseIp(address) : undefined;
    if (!ip) return false;
    return this.ranges.some((r) =>
      r.version === 4 ? ip.version === 4 && ip.n >= r.first && ip.n <= r.last : ip.version === 6 && compareWords(ip.w, r.first) >= 0 && compareWords(ip.w, r.last) <= 0,
    );
  }
}
