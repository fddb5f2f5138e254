/** The sign-in pages' stylesheet and script (served from Tenet's origin: CSP `'self'`). */

export { CSS } from "../../identity/web/styles.js";

/**
 * WebAuthn in the browser: reads the page's JSON island, asks the server for options, calls
 * navigator.credentials, posts the result and follows the redirect the server answers with.
 */
export const WEBAUTHN_JS = `"use strict";
(function () {
  var data = JSON.parse(document.getElementById("tenet-data").textContent);
  var status = document.getElementById("status");
  function say(msg, isError) { if (status) { status.textContent = msg; status.className = isError ? "error" : "muted"; } }
  function b64u(buf) { var s = ""; var b = new Uint8Array(buf); for (var i = 0; i < b.length; i++) s += String.fromCharCode(b[i]); return btoa(s).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, ""); }
  function unb64u(s) { s = s.replace(/-/g, "+").replace(/_/g, "/"); while (s.length % 4) s += "="; var bin = atob(s); var b = new Uint8Array(bin.length); for (var i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i); return b.buffer; }
  function friendly(e) {
    if (e && e.name === "NotAllowedError") return "No passkey was used: the request was cancelled or timed out, or this device has no passkey for this site.";
    if (e && e.name === "InvalidStateError") return "This passkey is already registered.";
    return (e && e.message) || String(e);
  }
  function post(url, body) {
    return fetch(url, { method: "POST", credentials: "same-origin", headers: { "content-type": "application/json", "x-csrf-token": data.csrf }, body: JSON.stringify(body || {}) })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.message || j.error_description || ("HTTP " + r.status)); return j; }); });
  }
  function creationOptions(o) {
    o.challenge = unb64u(o.challenge); o.user.id = unb64u(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = unb64u(c.id); });
    return o;
  }
  function requestOptions(o) {
    o.challenge = unb64u(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = unb64u(c.id); });
    return o;
  }
  function registrationJSON(c) {
    return { id: c.id, rawId: b64u(c.rawId), type: c.type, clientExtensionResults: c.getClientExtensionResults(), authenticatorAttachment: c.authenticatorAttachment || undefined,
      response: { clientDataJSON: b64u(c.response.clientDataJSON), attestationObject: b64u(c.response.attestationObject), transports: c.response.getTransports ? c.response.getTransports() : [] } };
  }
  function assertionJSON(c) {
    return { id: c.id, rawId: b64u(c.rawId), type: c.type, clientExtensionResults: c.getClientExtensionResults(), authenticatorAttachment: c.authenticatorAttachment || undefined,
      response: { clientDataJSON: b64u(c.response.clientDataJSON), authenticatorData: b64u(c.response.authenticatorData), signature: b64u(c.response.signature), userHandle: c.response.userHandle ? b64u(c.response.userHandle) : undefined } };
  }
  function signIn() {
    say("Waiting for your passkey…");
    post(data.base + "/passkey/options").then(function (o) {
      return navigator.credentials.get({ publicKey: requestOptions(o.options) }).then(function (c) { return post(data.base + "/passkey/verify", { handle: o.handle, response: assertionJSON(c) }); });
    }).then(function (r) { say("Signed in."); window.location.assign(r.redirect); }, function (e) { say(friendly(e), true); });
  }
  function register() {
    say("Follow your browser's prompt to create a passkey…");
    var name = document.getElementById("passkey-name");
    post(data.base + "/passkey/register-options").then(function (o) {
      return navigator.credentials.create({ publicKey: creationOptions(o.options) }).then(function (c) { return post(data.base + "/passkey/register", { handle: o.handle, response: registrationJSON(c), name: name ? name.value : undefined }); });
    }).then(function (r) { say("Passkey saved."); window.location.assign(r.redirect); }, function (e) { say(friendly(e), true); });
  }
  var s = document.getElementById("passkey-signin"); if (s) s.addEventListener("click", signIn);
  var g = document.getElementById("passkey-register"); if (g) g.addEventListener("click", register);
  if (!window.PublicKeyCredential) say("This browser cannot use passkeys.", true);
})();
`;
