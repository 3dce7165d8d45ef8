// Client of the video-export API for Node 20+ and Deno (Base44 backend functions), as one plain ES module.
// No dependencies: `fetch` is global on both runtimes, HMAC comes from `node:crypto` (Deno implements it).
//
//   import { exportVideo } from "./export-client.mjs";
//   const job = await exportVideo({ baseUrl, secret, timeline, assets: [{ src: "clip.mp4", body: bytes }] });
//
// Every function takes ONE object parameter; the reference is README.md next to this file.
//
// Signing (the rule of the Python package's video_export/signing.py, vectors in tests/vectors/signing.json):
//   x-base44-timestamp: unix time in ms, x-base44-signature: hex HMAC-SHA256(secret, `${ts}.${METHOD}.${path}.${rawBody}`)
// where `path` is the route path (`/export`, `/export/presign`, `/export/<jobId>`) WITHOUT the API Gateway
// stage: the base URL carries the stage, the signature does not.
import { Buffer } from "node:buffer";
import { createHmac, timingSafeEqual } from "node:crypto";

export const TIMESTAMP_HEADER = "x-base44-timestamp";
export const SIGNATURE_HEADER = "x-base44-signature";
export const DELIVERY_ID_HEADER = "x-base44-delivery-id";
/** A signed timestamp further than this from the receiver's clock, either way, is refused. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

const JSON_CONTENT_TYPE = "application/json; charset=utf-8";
const FINAL_STATUSES = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

// ------------------------------------------------------------------------------------------ signing

/**
 * Hex HMAC-SHA256 of `${timestampMs}.${METHOD}.${path}.${rawBody}`.
 * `rawBody` is the body exactly as sent: a string (signed as its UTF-8 bytes) or bytes (Uint8Array, Buffer,
 * ArrayBuffer); "" or omitted for GET. Synchronous, so callers may use it with or without `await`.
 */
export function computeExportSignature({ secret, timestampMs, method, path, rawBody = "" }) {
  const hmac = createHmac("sha256", secret);
  hmac.update(`${timestampMs}.${String(method).toUpperCase()}.${path}.`, "utf8");
  if (typeof rawBody === "string") hmac.update(rawBody, "utf8");
  else hmac.update(rawBody instanceof ArrayBuffer ? new Uint8Array(rawBody) : rawBody);
  return hmac.digest("hex");
}

let lastTimestampMs = 0;

/** Date.now(), but strictly increasing in this process: identical requests signed in one millisecond
 *  would carry the same signature, and the API rejects the second one as a replay. */
function uniqueNowMs() {
  lastTimestampMs = Math.max(Date.now(), lastTimestampMs + 1);
  return lastTimestampMs;
}

/** The two signature headers of one request, stamped with a fresh (never reused) millisecond. */
export function buildSignedHeaders({ secret, method, path, rawBody = "" }) {
  const timestampMs = uniqueNowMs();
  return {
    [TIMESTAMP_HEADER]: String(timestampMs),
    [SIGNATURE_HEADER]: computeExportSignature({ secret, timestampMs, method, path, rawBody }),
  };
}

// ------------------------------------------------------------------------------------------ webhooks

function headerValue(headers, name) {
  if (!headers) return undefined;
  if (typeof headers.get === "function") return headers.get(name) ?? undefined; // a fetch Headers object
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : headers[key];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Whether a completion webhook the service POSTed is authentic and fresh. Synchronous.
 * `secret`: the webhook secret, EXPORT_WEBHOOK_SECRET (or an array of them during a rotation). `headers`: the request's headers
 * (a `Headers` object or a plain object, names in any case). `path`: the callback URL's path as registered
 * (`/hooks/export`: no scheme, host or query). `rawBody`: the body exactly as received (string or bytes).
 * `nowMs`: the receiver's clock (default `Date.now()`).
 * False for missing or malformed `x-base44-timestamp`/`x-base44-signature`, a timestamp more than
 * 5 minutes away, or a signature that does not match `${timestamp}.POST.${path}.${rawBody}` (compared in
 * constant time). Throws a TypeError when `path` is not a path (a whole URL, a query string left on).
 */
export function verifyWebhook({ secret, headers, path, rawBody = "", nowMs = Date.now() }) {
  if (typeof path !== "string" || !path.startsWith("/") || path.includes("?") || path.includes("#")) {
    throw new TypeError(`path must be the callback URL's path, without scheme, host or query: ${path}`);
  }
  const timestamp = headerValue(headers, TIMESTAMP_HEADER);
  const signature = headerValue(headers, SIGNATURE_HEADER);
  if (typeof timestamp !== "string" || !/^[0-9]{1,16}$/.test(timestamp)) return false;
  if (typeof signature !== "string" || !/^[0-9a-fA-F]{64}$/.test(signature)) return false;
  if (Math.abs(Number(nowMs) - Number(timestamp)) > MAX_CLOCK_SKEW_MS) return false;
  const given = Buffer.from(signature.toLowerCase(), "utf8");
  let matched = false;
  for (const candidate of Array.isArray(secret) ? secret : [secret]) {
    if (!candidate) continue;
    const expected = computeExportSignature({ secret: candidate, timestampMs: timestamp, method: "POST", path, rawBody });
    matched = timingSafeEqual(Buffer.from(expected, "utf8"), given) || matched;
  }
  return matched;
}

// ------------------------------------------------------------------------------------------ transport

/** `https://host/v1/` + `/export` → `https://host/v1/export`: plain concatenation keeps the stage
 *  (`new URL("/export", base)` would drop it). */
function joinUrl(baseUrl, path) {
  if (!baseUrl) throw new Error("baseUrl is required");
  const route = path.startsWith("/") ? path : `/${path}`;
  return String(baseUrl).replace(/\/+$/, "") + route;
}

function errorText(body) {
  if (body && typeof body === "object") {
    if (typeof body.error === "string") return body.error;
    // an older error shape: {"error": {"code", "message"}}
    if (body.error && typeof body.error.message === "string") return body.error.message;
    return JSON.stringify(body);
  }
  return typeof body === "string" ? body : JSON.stringify(body);
}

/**
 * One signed request to the API. `path` is the route path, signed as is and appended to `baseUrl`.
 * Returns the parsed JSON body (the text when it is not JSON). When the response is not ok, throws
 * `Error("Export API request failed (<status>): <message>")` with `status`, `body` and `code` set.
 */
export async function signedFetch({ baseUrl, secret, path, method = "GET", headers = {}, bodyString }) {
  if (!secret) throw new Error("secret is required");
  const route = path.startsWith("/") ? path : `/${path}`;
  const upper = String(method).toUpperCase();
  const rawBody = bodyString ?? "";
  const allHeaders = { ...headers, ...buildSignedHeaders({ secret, method: upper, path: route, rawBody }) };
  if (bodyString !== undefined && !Object.keys(allHeaders).some((k) => k.toLowerCase() === "content-type")) {
    allHeaders["content-type"] = JSON_CONTENT_TYPE;
  }
  const response = await fetch(joinUrl(baseUrl, route), { method: upper, headers: allHeaders, body: bodyString });
  const text = await response.text();
  let body = text;
  try {
    body = text === "" ? null : JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  if (!response.ok) {
    const error = new Error(`Export API request failed (${response.status}): ${errorText(body)}`);
    error.status = response.status;
    error.body = body;
    error.code = body && typeof body === "object" ? (body.code ?? body.error?.code) : undefined;
    throw error;
  }
  return body;
}

// ------------------------------------------------------------------------------------------ the API

/** POST /export/presign. `assets`: [{src, contentType?, ext?}]. Returns `{uploads: [{src, s3Key, uploadUrl,
 *  headers, post}], expiresInSeconds, maxUploadBytes}`. */
export async function presignUploads({ baseUrl, secret, assets }) {
  return signedFetch({
    baseUrl,
    secret,
    path: "/export/presign",
    method: "POST",
    headers: { "content-type": JSON_CONTENT_TYPE },
    bodyString: JSON.stringify({ assets }),
  });
}

async function putBytes(uploadUrl, body, headers) {
  const response = await fetch(uploadUrl, { method: "PUT", headers, body });
  if (!response.ok) {
    throw new Error(`S3 upload failed (${response.status}): ${await response.text()}`);
  }
}

/** PUT `body` (Blob, ArrayBuffer, Uint8Array or Buffer) to a presigned URL; `content-type` is sent only
 *  when given (a presigned PUT is bound to the type it was issued for). */
export async function uploadToPresignedUrl({ uploadUrl, body, contentType }) {
  await putBytes(uploadUrl, body, contentType ? { "content-type": contentType } : {});
}

/** POST /export with `{timeline, assets, output?}` (assets: [{src, s3Key}]; output: {width, height, fps,
 *  quality, format, poster, ...}, left out when not given). Returns `{jobId, status, ...}`. */
export async function startExport({ baseUrl, secret, timeline, assets, output }) {
  return signedFetch({
    baseUrl,
    secret,
    path: "/export",
    method: "POST",
    headers: { "content-type": JSON_CONTENT_TYPE },
    bodyString: JSON.stringify(output === undefined ? { timeline, assets } : { timeline, assets, output }),
  });
}

/**
 * POST /export/quote with a whole `POST /export` body (`{timeline, assets, output?, callbackUrl?}`): what
 * the export would render and cost, before anything renders. Returns `{durationSeconds, frames, width,
 * height, fps, chunks, estimate: {renderSeconds, wallSeconds, lambdaGbSeconds}}`; a body POST /export
 * would refuse is refused the same way (thrown, with `status` and `code`).
 */
export async function quoteExport({ baseUrl, secret, body }) {
  if (!body || typeof body !== "object") throw new Error("body is required");
  return signedFetch({
    baseUrl,
    secret,
    path: "/export/quote",
    method: "POST",
    headers: { "content-type": JSON_CONTENT_TYPE },
    bodyString: JSON.stringify(body),
  });
}

/** GET /export/<jobId>: `{jobId, status, progress, output?, downloadUrl?, error?, errorCode?, ...}`. */
export async function getExportJob({ baseUrl, secret, jobId }) {
  if (!jobId) throw new Error("jobId is required");
  return signedFetch({ baseUrl, secret, path: `/export/${encodeURIComponent(jobId)}` });
}

/**
 * DELETE /export/<jobId>: cancels the job. Returns `{jobId, status}`: "CANCELLED" for a job that was queued
 * (or already cancelled), "CANCELLING" for a running one, which stops within one heartbeat and then ends
 * CANCELLED (`waitForExport` sees it end). Throws like `signedFetch`: status 409 with code
 * "JOB_ALREADY_ENDED" when the job SUCCEEDED or FAILED first, 404 "NOT_FOUND" for an unknown id.
 */
export async function cancelExport({ baseUrl, secret, jobId }) {
  if (!jobId) throw new Error("jobId is required");
  return signedFetch({ baseUrl, secret, path: `/export/${encodeURIComponent(jobId)}`, method: "DELETE" });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls GET /export/<jobId> every `intervalMs` until the job is SUCCEEDED, FAILED or CANCELLED and returns
 * the job (a FAILED or CANCELLED job is returned, not thrown). Throws `Error("Timed out waiting for export job <jobId>")` when
 * it is not final after `timeoutMs`. `onProgress(job)`, optional, is called (and awaited) with every job
 * object polled, the final one included; what it throws aborts the wait.
 */
export async function waitForExport({
  baseUrl,
  secret,
  jobId,
  timeoutMs = 10 * 60_000,
  intervalMs = 1500,
  onProgress,
}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getExportJob({ baseUrl, secret, jobId });
    if (onProgress) await onProgress(job);
    if (FINAL_STATUSES.has(job.status)) return job;
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`Timed out waiting for export job ${jobId}`);
    await sleep(Math.min(intervalMs, left));
  }
}

function contentTypeOf(headers) {
  const name = Object.keys(headers ?? {}).find((k) => k.toLowerCase() === "content-type");
  return name === undefined ? undefined : headers[name];
}

/**
 * The whole export: presign every asset, upload them all in parallel, start the export with the issued
 * keys, then wait for it (`waitForExport`, `onProgress` passed through) and return the final job.
 * `assets`: [{src, body, contentType?, ext?}]; `output`, optional, is the body's `output` (size, quality,
 * format, poster). With `wait: false` it returns `{jobId}` once started.
 */
export async function exportVideo({ baseUrl, secret, timeline, assets = [], output, wait = true, onProgress }) {
  let uploaded = [];
  if (assets.length > 0) {
    const presigned = await presignUploads({
      baseUrl,
      secret,
      assets: assets.map(({ src, contentType, ext }) => ({ src, contentType, ext })),
    });
    const uploads = presigned.uploads.map((upload, i) => {
      const asset = assets[i]?.src === upload.src ? assets[i] : assets.find((a) => a.src === upload.src);
      if (!asset) throw new Error(`presign returned an upload for an unknown src: ${upload.src}`);
      // the headers the upload URL was issued for; the asset's own type only when they name none
      const headers = { ...(upload.headers ?? {}) };
      if (contentTypeOf(headers) === undefined && asset.contentType) headers["content-type"] = asset.contentType;
      return { upload, asset, headers };
    });
    await Promise.all(uploads.map(({ upload, asset, headers }) => putBytes(upload.uploadUrl, asset.body, headers)));
    uploaded = uploads.map(({ upload }) => ({ src: upload.src, s3Key: upload.s3Key }));
  }
  const started = await startExport({ baseUrl, secret, timeline, assets: uploaded, output });
  if (!wait) return { jobId: started.jobId };
  return waitForExport({ baseUrl, secret, jobId: started.jobId, onProgress });
}
