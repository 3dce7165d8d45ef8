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

/** The two headers to add to a request; `nowMs` is for tests. */
export function signRequest(secret, method, path, body = "", nowMs = Date.now()) {
  const timestamp = String(nowMs);
  return {
    [TIMESTAMP_HEADER]: timestamp,
    [SIGNATURE_HEADER]: sign(secret, timestamp, method, path, body),
  };
}
