/**
 * JSON lines in a local file: one event per line (the stored bytes, so each line's RFC 6962 leaf
 * hash is SHA-256(0x00 || line) and can be checked against the log's signed checkpoints).
 *
 * A batch is acknowledged once written and fdatasync'ed. Rotation is numbered, as logrotate does:
 * `audit.jsonl` → `audit.jsonl.1` → `audit.jsonl.2` …, keeping `maxFiles` rotated files (the
 * oldest is dropped); the directory is fsynced after the renames. A file is rotated before the
 * line that would take it past `maxBytes`, and at the first write once it is older than
 * `maxAgeMs`. Reading `audit.jsonl.N` … `.1` then `audit.jsonl` gives the entries in order.
 *
 * At-least-once: a batch that failed half-way is written again, so a reader may see a seq twice
 * (skip any seq not greater than the last one read). A line cut short by a crash is not
 * acknowledged; it is removed when the file is opened again.
 */
import { constants } from "node:fs";
import { type FileHandle, mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import type { AuditRow } from "../../../storage/interfaces.js";
import { DeliveryError, type Sink } from "../sink.js";

export interface FileSinkOptions {
  name: string;
  path: string;
  /** Rotate before the file would grow past this many bytes. */
  maxBytes?: number | undefined;
  /** Rotate at the first write after the file is this old (ms). */
  maxAgeMs?: number | undefined;
  /** Rotated files to keep (at least 1). */
  maxFiles: number;
  now?: () => number;
}

/** Errors someone has to fix (permissions, a read-only or full disk): the sink is stuck until then. */
const STUCK_CODES = new Set(["EACCES", "EPERM", "EROFS", "EISDIR", "ENOTDIR", "ENOSPC", "EDQUOT", "ENAMETOOLONG"]);

export class FileSink implements Sink {
  readonly type = "file" as const;
  readonly name: string;
  private fh: FileHandle | undefined;
  private size = 0;
  private openedAt = 0;
  private readonly now: () => number;

  constructor(private readonly opts: FileSinkOptions) {
    if (!Number.isInteger(opts.maxFiles) || opts.maxFiles < 1) throw new TypeError("maxFiles must be a positive integer");
    this.name = opts.name;
    this.now = opts.now ?? Date.now;
  }

  async deliver(rows: readonly AuditRow[]): Promise<void> {
    try {
      if (!this.fh) await this.open();
      let chunk: string[] = [];
      let chunkBytes = 0;
      for (const r of rows) {
        const line = `${r.event}\n`;
        const bytes = Buffer.byteLength(line);
        if (this.mustRotate(chunkBytes, bytes)) {
          await this.write(chunk);
          await this.rotate();
          chunk = [];
          chunkBytes = 0;
        }
        chunk.push(line);
        chunkBytes += bytes;
      }
      await this.write(chunk);
    } catch (err) {
      // Start again from a freshly opened file (whose torn last line, if any, is removed).
      await this.closeQuietly();
      const code = (err as NodeJS.ErrnoException).code;
      const message = `${this.opts.path}: ${(err as Error).message}`;
      throw new DeliveryError(message, code !== undefined && STUCK_CODES.has(code) ? "stuck" : "retry", undefined, { cause: err });
    }
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    if (fh) {
      try {
        await fh.datasync();
      } finally {
        await fh.close();
      }
    }
  }

  /** Whether the file must be rotated before `bytes` more (after `pending` not yet written). */
  private mustRotate(pending: number, bytes: number): boolean {
    const current = this.size + pending;
    if (current === 0) {
      // An empty file has nothing to rotate away; it ages from its first line.
      this.openedAt = this.now();
      return false;
    }
    if (this.opts.maxBytes !== undefined && current + bytes > this.opts.maxBytes) return true;
    return this.opts.maxAgeMs !== undefined && this.now() - this.openedAt >= this.opts.maxAgeMs;
  }

  /** Appends the lines and waits for them to reach the disk. */
  private async write(lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    const fh = this.fh!;
    const buf = Buffer.from(lines.join(""), "utf8");
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await fh.write(buf, off, buf.length - off);
      off += bytesWritten;
    }
    await fh.datasync();
    this.size += buf.length;
  }

  private async open(): Promise<void> {
    const path = this.opts.path;
    await mkdir(dirname(path), { recursive: true, mode: 0o750 });
    let existing = true;
    try {
      await repairTail(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      existing = false;
    }
    const fh = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT, 0o640);
    try {
      const st = await fh.stat();
      this.size = st.size;
      // A file kept from an earlier run ages from its creation (where the file system records it).
      this.openedAt = existing && st.birthtimeMs > 0 ? st.birthtimeMs : this.now();
      if (!existing) await syncDir(dirname(path));
    } catch (err) {
      await fh.close();
      throw err;
    }
    this.fh = fh;
  }

  /** audit.jsonl.(N-1) → .N, …, audit.jsonl → .1; then a new audit.jsonl. */
  private async rotate(): Promise<void> {
    const path = this.opts.path;
    await this.close();
    // Files beyond maxFiles (left by a larger setting earlier) go first, oldest first.
    for (let i = this.opts.maxFiles + 1; ; i++) {
      try {
        await unlink(`${path}.${i}`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") break;
        throw err;
      }
    }
    for (let i = this.opts.maxFiles - 1; i >= 1; i--) {
      try {
        await rename(`${path}.${i}`, `${path}.${i + 1}`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
    }
    await rename(path, `${path}.1`);
    await syncDir(dirname(path));
    await this.open();
  }

  private async closeQuietly(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close().catch(() => undefined);
  }
}

/** Cuts a last line that has no newline (a write torn by a crash: never acknowledged). */
async function repairTail(path: string): Promise<void> {
  const st = await stat(path);
  if (st.size === 0) return;
  const fh = await open(path, "r+");
  try {
    const CHUNK = 64 * 1024;
    let end = st.size;
    const buf = Buffer.alloc(CHUNK);
    const last = await fh.read(buf, 0, 1, end - 1);
    if (last.bytesRead === 1 && buf[0] === 0x0a) return;
    while (end > 0) {
      const start = Math.max(0, end - CHUNK);
      const { bytesRead } = await fh.read(buf, 0, end - start, start);
      const nl = buf.subarray(0, bytesRead).lastIndexOf(0x0a);
      if (nl >= 0) {
        await fh.truncate(start + nl + 1);
        await fh.datasync();
        return;
      }
      end = start;
    }
    await fh.truncate(0);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** fsync of a directory, so renames and new files in it survive a crash. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
