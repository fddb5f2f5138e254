/**
 * The receiving end of the PostgreSQL change feed. Every committed tuple write runs
 * `pg_notify(<channel>, '<storeId>:<revision>')` in its transaction (delivered on commit only);
 * a subscription holds one dedicated connection (not from the pool: LISTEN is per session and a
 * pooled connection is shared) that runs `LISTEN <channel>` and passes each payload on.
 *
 * The channel is per schema (`tenet_changes_<schema>`): NOTIFY is database-wide, and Tenet
 * instances in different schemas of one database must not hear each other.
 *
 * When the connection drops (server restart, failover, terminated backend), the subscription
 * reconnects with exponential backoff (100 ms doubling to 5 s, reset after a success) until it
 * is ended. Notifications sent while it was disconnected are lost: receivers treat them as hints
 * and read the change log.
 */
import { createHash } from "node:crypto";
import { Client, escapeIdentifier, type ClientConfig, type Notification } from "pg";

export type ChangeListenerFn = (storeId: string, revision: number) => void;

const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5000;
const PLAIN_CHANNEL = /^[a-z_][a-z0-9_]*$/;
/** PostgreSQL refuses channel names longer than NAMEDATALEN - 1 bytes. */
const MAX_CHANNEL_LENGTH = 63;

/**
 * The notification channel of a schema: `tenet_changes_<schema>` when that is a plain lower-case
 * identifier of at most 63 bytes; otherwise a sanitised, shortened name made unique by a hash of
 * the schema name.
 */
export function changeChannel(schema: string): string {
  const plain = `tenet_changes_${schema}`;
  if (PLAIN_CHANNEL.test(plain) && plain.length <= MAX_CHANNEL_LENGTH) return plain;
  const safe = schema
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, "_")
    .slice(0, 40);
  return `tenet_changes_${safe}_${createHash("sha256").update(schema, "utf8").digest("hex").slice(0, 8)}`;
}

/** `<storeId>:<revision>` as written by the tuple write, or undefined for anything else. */
export function parseChangePayload(payload: string | undefined): { storeId: string; revision: number } | undefined {
  if (payload === undefined) return undefined;
  const colon = payload.lastIndexOf(":");
  if (colon <= 0) return undefined;
  const digits = payload.slice(colon + 1);
  if (!/^\d+$/.test(digits)) return undefined;
  const revision = Number(digits);
  if (!Number.isSafeInteger(revision)) return undefined;
  return { storeId: payload.slice(0, colon), revision };
}

export class ChangeSubscription {
  private client: Client | undefined;
  private ended = false;
  private timer: NodeJS.Timeout | undefined;
  private backoffMs = MIN_BACKOFF_MS;

  constructor(
    private readonly config: ClientConfig,
    private readonly channel: string,
    private readonly listener: ChangeListenerFn,
  ) {}

  /** Connects and listens. Throws (and leaves nothing open) if the first attempt fails. */
  async start(): Promise<void> {
    try {
      await this.connect();
    } catch (err) {
      await this.end();
      throw err;
    }
  }

  /** Stops listening and closes the connection; no listener call happens after this resolves. */
  async end(): Promise<void> {
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new Client(this.config);
    this.client = client;
    // Without an 'error' listener a dropped connection would crash the process.
    client.on("error", () => this.lost(client));
    client.on("end", () => this.lost(client));
    client.on("notification", (msg: Notification) => {
      if (client !== this.client || msg.channel !== this.channel) return;
      const change = parseChangePayload(msg.payload);
      if (!change) return;
      try {
        this.listener(change.storeId, change.revision);
      } catch {
        // A failing listener must not break the connection's message handling.
      }
    });
    await client.connect();
    await client.query(`LISTEN ${escapeIdentifier(this.channel)}`);
    // Ended (or lost) while connecting: close what was opened.
    if (client !== this.client) await client.end().catch(() => undefined);
  }

  /** The connection of `client` broke: drop it and, unless ended, reconnect later. */
  private lost(client: Client): void {
    if (client !== this.client) return;
    this.client = undefined;
    client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.ended || this.timer) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reconnect();
    }, delay);
    // A pending reconnect alone does not keep the process alive.
    this.timer.unref();
  }

  private async reconnect(): Promise<void> {
    if (this.ended) return;
    try {
      await this.connect();
      if (this.client) this.backoffMs = MIN_BACKOFF_MS;
    } catch {
      const c = this.client;
      this.client = undefined;
      await c?.end().catch(() => undefined);
      this.scheduleReconnect();
    }
  }
}
