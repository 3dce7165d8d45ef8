// Request signing for the video-export API, byte-compatible with export_common/signing.py.
// Runs unchanged in Node 20+ and in Deno (Base44 backend functions): only `node:crypto` is used.
//
//   signature = hex(HMAC-SHA256(secret, `${timestamp}.${METHOD}.${path}.` + rawBody))
//
// `path` is the route path relative to the API base URL ("/export", "/export/presign",
// "/export/<jobId>"), never the stage prefix and never the query string. `rawBody` is exactly the bytes
// you send (send the same string you signed); GET requests sign an empty body.
import { createHmac } from "node:crypto";

export const TIMESTAMP_HEADER = "x-base44-timestamp";
export const SIGNATURE_HEADER = "x-base44-signature";

/** Hex signature of one request. `body` is a string (encoded as UTF-8) or a Uint8Array. */
export function sign(secret, timestamp, method, path, body = "") {
  const hmac = createHmac("sha256", secret);
  hmac.update(`${timestamp}.${method.toUpperCase()}.${path}.`, "utf8");
  if (typeof body === "string") hmac.update(body, "utf8");
  else hmac.update(body);
  return hmac.digest("hex");
}

let lastTimestamp = 0;

/** Date.now(), strictly increasing: two identical requests in one millisecond would look like a replay. */
function uniqueNow() {
  lastTimestamp = Math.max(Date.now(), lastTimestamp + 1);
  return lastTimestamp;
}

/** The two headers to add to a request; `nowMs` is for tests. */
export function signRequest(secret, method, path, body = "", nowMs = uniqueNow()) {
  const timestamp = String(nowMs);
  return {
    [TIMESTAMP_HEADER]: timestamp,
    [SIGNATURE_HEADER]: sign(secret, timestamp, method, path, body),
  };
}

// Command line, for curl: prints the two headers as curl arguments, one per line, e.g.
//   mapfile -t sig < <(node scripts/node/sign.mjs POST /export body.json)
//   curl "${sig[@]}" -H 'content-type: application/json' --data-binary @body.json "$EXPORT_API_URL/export"
// The secret comes from EXPORT_SIGNING_SECRET; the body file is signed byte for byte (omit it for GET).
if (typeof process !== "undefined" && import.meta.url === `file://${process.argv[1]}`) {
  const [method, path, bodyFile] = process.argv.slice(2);
  const secret = process.env.EXPORT_SIGNING_SECRET;
  if (!method || !path || !secret) {
    console.error("usage: EXPORT_SIGNING_SECRET=... sign.mjs METHOD PATH [body-file]");
    process.exit(2);
  }
  const { readFileSync } = await import("node:fs");
  const body = bodyFile ? readFileSync(bodyFile) : "";
  for (const [name, value] of Object.entries(signRequest(secret, method, path, body))) {
    console.log("-H");
    console.log(`${name}: ${value}`);
  }
}
