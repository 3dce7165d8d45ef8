// The browser demo's backend: serves the page and signs its four API calls, as a Base44 backend
// function does with the same client (clients/node/export-client.mjs). The secret stays in this process:
// the page only ever sees presigned S3 URLs, job ids, progress and the download URL.
//
//   EXPORT_API_URL=... EXPORT_SIGNING_SECRET=... node examples/browser_demo/server.mjs   (or: make demo)
//
// Settings (environment): EXPORT_API_URL, EXPORT_SIGNING_SECRET (required); DEMO_HOST (127.0.0.1),
// DEMO_PORT (8044). The page's origin must be in the buckets' CORS rules (Terraform `cors_allowed_origins`).
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";

import { cancelExport, getExportJob, presignUploads, signedFetch } from "../../clients/node/export-client.mjs";

const PAGE_DIR = fileURLToPath(new URL("./page/", import.meta.url));
// Only these files are served; nothing else on disk is reachable.
const STATIC_FILES = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/index.html": ["index.html", "text/html; charset=utf-8"],
  "/app.js": ["app.js", "text/javascript; charset=utf-8"],
  "/timeline.js": ["timeline.js", "text/javascript; charset=utf-8"],
  "/style.css": ["style.css", "text/css; charset=utf-8"],
};
const MAX_BODY_BYTES = 1024 * 1024;
const JOB_PATH = /^\/api\/export\/([A-Za-z0-9-]{1,64})$/;

class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function settings(env) {
  const baseUrl = env.EXPORT_API_URL;
  const secret = env.EXPORT_SIGNING_SECRET;
  if (!baseUrl || !secret) {
    throw new Error("EXPORT_API_URL and EXPORT_SIGNING_SECRET must be set (eval \"$(make -s dev-env)\")");
  }
  return { baseUrl, secret, host: env.DEMO_HOST || "127.0.0.1", port: Number(env.DEMO_PORT || 8044) };
}

function send(response, status, body, contentType = "application/json; charset=utf-8") {
  const payload = typeof body === "string" || body instanceof Buffer ? body : JSON.stringify(body);
  response.writeHead(status, {
    "content-type": contentType,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  response.end(payload);
}

async function readJson(request) {
  const chunks = [];
  let size = 0;
  for await (const chunk of request) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, "PAYLOAD_TOO_LARGE", "The request body is too large.");
    chunks.push(chunk);
  }
  let body;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new HttpError(400, "INVALID_JSON", "The request body is not JSON.");
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new HttpError(400, "INVALID_JSON", "The request body must be a JSON object.");
  }
  return body;
}

/** Only this server's own pages may use its signer: a browser names the calling page's origin. */
function checkOrigin(request) {
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `http://${request.headers.host}`) {
    throw new HttpError(403, "FORBIDDEN_ORIGIN", `Requests from ${origin} are not accepted.`);
  }
}

async function api(request, url, config) {
  if (request.method === "POST" && url.pathname === "/api/presign") {
    const { assets } = await readJson(request);
    return presignUploads({ baseUrl: config.baseUrl, secret: config.secret, assets });
  }
  if (request.method === "POST" && url.pathname === "/api/export") {
    const { timeline, assets, output } = await readJson(request);
    const bodyString = JSON.stringify({ timeline, assets, output });
    return signedFetch({ baseUrl: config.baseUrl, secret: config.secret, path: "/export", method: "POST", bodyString });
  }
  const job = JOB_PATH.exec(url.pathname);
  if (request.method === "GET" && job) {
    return getExportJob({ baseUrl: config.baseUrl, secret: config.secret, jobId: job[1] });
  }
  if (request.method === "DELETE" && job) {
    return cancelExport({ baseUrl: config.baseUrl, secret: config.secret, jobId: job[1] });
  }
  throw new HttpError(404, "NOT_FOUND", `No route ${request.method} ${url.pathname}.`);
}

async function handle(request, response, config, ownOrigin) {
  const url = new URL(request.url, ownOrigin);
  const file = request.method === "GET" ? STATIC_FILES[url.pathname] : undefined;
  if (file) {
    const [name, type] = file;
    return send(response, 200, await readFile(PAGE_DIR + name), type);
  }
  if (!url.pathname.startsWith("/api/")) return send(response, 404, { error: "Not found.", code: "NOT_FOUND" });
  try {
    checkOrigin(request);
    send(response, 200, await api(request, url, config));
  } catch (error) {
    if (error instanceof HttpError) return send(response, error.status, { error: error.message, code: error.code });
    if (error.status) {
      // the API's own refusal (validation, not found...): its status and JSON error, as they were
      const body = error.body && typeof error.body === "object" ? error.body : { error: error.message };
      return send(response, error.status, body);
    }
    console.error(`demo backend: ${error.message}`);
    send(response, 502, { error: "The export API could not be reached.", code: "UPSTREAM_UNAVAILABLE" });
  }
}

export function startDemoServer(env = process.env) {
  const config = settings(env);
  const ownOrigin = `http://${config.host}:${config.port}`;
  const server = createServer((request, response) => {
    handle(request, response, config, ownOrigin).catch((error) => {
      console.error(`demo backend: ${error.message}`);
      if (!response.headersSent) send(response, 500, { error: "Internal error.", code: "INTERNAL_ERROR" });
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => resolve({ server, url: `${ownOrigin}/` }));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url } = await startDemoServer();
  console.log(`Browser demo: ${url}`);
  // Ctrl-C (or make's TERM) is the normal way out: nothing to flush, end with success.
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
}
