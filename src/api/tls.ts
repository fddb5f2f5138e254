/**
 * TLS termination with a given certificate (TENET_TLS_CERT_FILE, TENET_TLS_KEY_FILE): reads the
 * PEM files once at start and refuses to start on anything unusable, with a message that names
 * the variable and the file and never shows the files' contents. The files are then polled, so
 * a renewed certificate (certbot, cert-manager, an operator's copy) is served without a restart;
 * a renewal that cannot be used leaves the previous certificate in place and is reported.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import { readFileSync, type Stats, statSync } from "node:fs";
import { stat } from "node:fs/promises";
import type https from "node:https";
import { createSecureContext, type Server as TlsServer } from "node:tls";
import { TenetError } from "../errors.js";

const CERT_VAR = "TENET_TLS_CERT_FILE";
const KEY_VAR = "TENET_TLS_KEY_FILE";

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** What the poller has to say: a certificate now served, or a renewal that was not used. */
export interface TlsEvent {
  kind: "reloaded" | "problem";
  message: string;
}

export interface LoadedTls {
  /** For https.createServer: certificate chain, key, and no protocol older than TLS 1.2. */
  options: https.ServerOptions;
  /** The certificate served, for the start line (subject, serial, expiry). */
  describe: string;
  /** Things worth a warning that do not stop the start (an expired certificate). */
  warnings: string[];
  /**
   * Polls the files every intervalMs and gives `server` the new certificate once they changed
   * and then stayed unchanged for one interval (so a certificate written before its key is not
   * paired with the old key). Returns the function that stops polling.
   */
  watch(server: Pick<TlsServer, "setSecureContext">, onEvent: (e: TlsEvent) => void, intervalMs?: number): () => void;
}

interface Material {
  options: https.ServerOptions & { cert: Buffer; key: Buffer };
  describe: string;
  warnings: string[];
}

export function loadTls(files: TlsFiles): LoadedTls {
  // The files' state before reading: a change while they are read is then seen by the poller.
  let seen = signatureSync(files);
  const first = readMaterial(files);
  return {
    options: first.options,
    describe: first.describe,
    warnings: first.warnings,
    watch(server, onEvent, intervalMs = 5000) {
      let pending: string | undefined;
      let busy = false;
      const poll = async () => {
        const now = await signature(files);
        if (now === seen) {
          pending = undefined;
          return;
        }
        if (now !== pending) {
          pending = now;
          return;
        }
        // Changed, then settled: try it once; a failure is not retried until the files change again.
        seen = now;
        pending = undefined;
        try {
          const next = readMaterial(files);
          server.setSecureContext(next.options);
          onEvent({ kind: "reloaded", message: `TLS: now serving ${next.describe} from ${files.certFile}` });
          for (const w of next.warnings) onEvent({ kind: "problem", message: w });
        } catch (err) {
          const why = err instanceof TenetError ? err.message : "the new files could not be used";
          onEvent({ kind: "problem", message: `${why}; still serving the previous certificate` });
        }
      };
      const timer = setInterval(() => {
        if (busy) return;
        busy = true;
        poll().finally(() => (busy = false));
      }, intervalMs);
      // Polling must not keep a stopping process alive.
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}

/** Reads and checks both files; every failure is a validation_error naming the variable and file. */
function readMaterial(files: TlsFiles): Material {
  const certPem = readPem(CERT_VAR, files.certFile);
  const keyPem = readPem(KEY_VAR, files.keyFile);
  const certText = certPem.toString("latin1");
  const keyText = keyPem.toString("latin1");

  if (!certText.includes("-----BEGIN CERTIFICATE-----")) {
    const hint = /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(certText) ? " (it holds a private key: are the two variables swapped?)" : "";
    throw invalid(`${CERT_VAR}: ${files.certFile} holds no PEM certificate${hint}`);
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (err) {
    throw invalid(`${CERT_VAR}: ${files.certFile} holds a damaged certificate`, err);
  }

  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(keyText)) {
    throw invalid(`${KEY_VAR}: ${files.keyFile} is encrypted with a passphrase; give the unencrypted key (readable only by Tenet's user)`);
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyText)) {
    const hint = keyText.includes("-----BEGIN CERTIFICATE-----") ? " (it holds a certificate: are the two variables swapped?)" : "";
    throw invalid(`${KEY_VAR}: ${files.keyFile} holds no PEM private key${hint}`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: keyPem, format: "pem" });
  } catch (err) {
    // OpenSSL's reason goes into `cause` only: the message stays free of anything from the file.
    throw invalid(`${KEY_VAR}: ${files.keyFile} holds a damaged or unsupported private key`, err);
  }
  if (!cert.checkPrivateKey(key)) {
    throw invalid(`${KEY_VAR}: the private key in ${files.keyFile} does not belong to the certificate in ${files.certFile} (${CERT_VAR})`);
  }

  // TLS 1.0 and 1.1 are deprecated (RFC 8996).
  const options = { cert: certPem, key: keyPem, minVersion: "TLSv1.2" as const };
  try {
    createSecureContext(options);
  } catch (err) {
    // What OpenSSL still refuses (a key too small for its security level): its reason is a fixed
    // text such as "ee key too small", never file contents.
    const reason = String((err as { reason?: unknown }).reason ?? (err as Error).message ?? "refused");
    throw invalid(`${CERT_VAR}/${KEY_VAR}: ${files.certFile} and ${files.keyFile} cannot be served: ${reason}`, err);
  }

  const describe = `certificate ${cert.subject.replace(/\n/g, ", ")} (serial ${cert.serialNumber}, valid until ${new Date(cert.validTo).toISOString()})`;
  const warnings: string[] = [];
  const now = Date.now();
  if (Date.parse(cert.validTo) < now) warnings.push(`TLS: the certificate in ${files.certFile} expired on ${new Date(cert.validTo).toISOString()}; clients will refuse it`);
  else if (Date.parse(cert.validFrom) > now) warnings.push(`TLS: the certificate in ${files.certFile} is not valid before ${new Date(cert.validFrom).toISOString()}; clients will refuse it`);
  return { options, describe, warnings };
}

function readPem(variable: string, file: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT" ? "does not exist" : code === "EACCES" || code === "EPERM" ? "is not readable by this user" : code === "EISDIR" ? "is a directory" : `cannot be read (${code ?? "error"})`;
    throw invalid(`${variable}: ${file} ${why}`, err);
  }
  if (data.length === 0) throw invalid(`${variable}: ${file} is empty`);
  return data;
}

function invalid(message: string, cause?: unknown): TenetError {
  return new TenetError("validation_error", message, cause === undefined ? {} : { cause });
}

/** Identity, size and times of both files: certbot swaps symlinks, others rewrite in place. */
async function signature(files: TlsFiles): Promise<string> {
  const one = (f: string) => stat(f).then(stamp, missing);
  return `${await one(files.certFile)}|${await one(files.keyFile)}`;
}

/** The same, at start (before the first read). */
function signatureSync(files: TlsFiles): string {
  const one = (f: string) => {
    try {
      return stamp(statSync(f));
    } catch (err) {
      return missing(err);
    }
  };
  return `${one(files.certFile)}|${one(files.keyFile)}`;
}

const stamp = (s: Stats) => `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
const missing = (err: unknown) => `missing:${(err as NodeJS.ErrnoException).code ?? "error"}`;
