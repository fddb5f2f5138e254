/** Boundary checks of directory input: names, ids and e-mail addresses. */
import { TenetError } from "../../errors.js";

/** Ids are usable as OpenFGA object ids (`user:<id>`) and in URLs without escaping. */
const ID = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/;
const EMAIL = /^[^\s@<>()",;:\\]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$/;

export function checkId(id: string, what: string): string {
  if (typeof id !== "string" || !ID.test(id)) throw new TenetError("validation_error", `${what} must be 1–128 characters: letters, digits and . _ @ + - (starting with a letter or digit)`);
  return id;
}

export function isId(id: string): boolean {
  return ID.test(id);
}

export function checkText(value: string | undefined, what: string, max = 256): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.trim().length === 0 || value.length > max || hasControl(value)) {
    throw new TenetError("validation_error", `${what} must be 1–${max} characters without control characters`);
  }
  return value.trim();
}

export function checkEmail(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !EMAIL.test(value)) throw new TenetError("validation_error", "email must be an e-mail address");
  return value;
}

/** The key that makes names unique regardless of case and Unicode form. */
export function nameKey(name: string): string {
  return name.normalize("NFKC").toLowerCase();
}

function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}
