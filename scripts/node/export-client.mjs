#!/usr/bin/env node
// Minimal signed client for the video-export API (Node 20 built-ins only: fetch + node:crypto).
//
//   EXPORT_API_URL=... EXPORT_SIGNING_SECRET=... node scripts/node/export-client.mjs request POST /export body.json
//   node scripts/node/export-client.mjs request GET /export/<jobId>
//   node scripts/node/export-client.mjs export request.json out.mp4 [src=path ...]
//
// `request` prints one JSON line {"status": <http status>, "body": <parsed JSON body or text>}; exit code 0
// when the request was sent (whatever the status), 2 on usage errors.
// `export` runs the whole flow as a Base44 backend would: presign and upload the given files (their s3Keys
// replace the request's assets of the same src), POST /export, poll until done, download the mp4. Exit code
// 0 on SUCCEEDED, 1 on FAILED or any unexpected answer.
import { readFileSync, writeFileSync } from "node:fs";
import { extname } from "node:path";
import { signRequest } from "./sign.mjs";

export async function request(baseUrl, secret, method, path, body = "", extraHeaders = {}) {
  const headers = { ...extraHeaders, ...signRequest(secret, method, path, body) };
  if (body !== "") headers["content-type"] = "application/json";
  const response = await fetch(baseUrl.replace(/\/+$/, "") + path, {
    method,
    headers,
    body: body === "" ? undefined : body,
  });
  const text = await response.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed };
}

const CONTENT_TYPES = {
  ".mp4": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm", ".mp3": "audio/mpeg",
  ".m4a": "audio/mp4", ".wav": "audio/wav", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
};

function expectStatus(result, status, what) {
  if (result.status !== status) {
    throw new Error(`${what}: HTTP ${result.status} ${JSON.stringify(result.body)}`);
  }
  return result.body;
}

/** Presign, upload, export, poll, download: every API call signed here, in Node. */
export async function runExport(baseUrl, secret, exportRequest, outPath, files = {}, log = console.error) {
  const sources = Object.keys(files);
  if (sources.length > 0) {
    const assets = sources.map((src) => {
      const ext = extname(files[src]).toLowerCase();
      return { src, contentType: CONTENT_TYPES[ext], ext };
    });
    const presigned = expectStatus(
      await request(baseUrl, secret, "POST", "/export/presign", JSON.stringify({ assets })), 200, "presign");
    const keys = {};
    for (const upload of presigned.uploads) {
      const put = await fetch(upload.uploadUrl, {
        method: "PUT", headers: upload.headers, body: readFileSync(files[upload.src]),
      });
      if (!put.ok) throw new Error(`upload of ${upload.src}: HTTP ${put.status}`);
      keys[upload.src] = upload.s3Key;
    }
    const others = (exportRequest.assets ?? []).filter((asset) => !(asset.src in keys));
    exportRequest.assets = [...others, ...Object.entries(keys).map(([src, s3Key]) => ({ src, s3Key }))];
  }
  const created = expectStatus(
    await request(baseUrl, secret, "POST", "/export", JSON.stringify(exportRequest)), 202, "export");
  log(`job ${created.jobId} ${created.status}`);
  for (;;) {
    const status = expectStatus(
      await request(baseUrl, secret, "GET", `/export/${created.jobId}`), 200, "status");
    if (status.status === "FAILED") throw new Error(`job failed: ${JSON.stringify(status.error)}`);
    if (status.status === "SUCCEEDED") {
      const download = await fetch(status.downloadUrl);
      if (!download.ok) throw new Error(`download: HTTP ${download.status}`);
      writeFileSync(outPath, Buffer.from(await download.arrayBuffer()));
      log(`job ${created.jobId} SUCCEEDED -> ${outPath}`);
      return status;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function main(argv) {
  const [command, method, path, bodyFile, ...rest] = argv;
  const baseUrl = process.env.EXPORT_API_URL;
  const secret = process.env.EXPORT_SIGNING_SECRET;
  if (command === "export" && method && path && baseUrl && secret) {
    const files = Object.fromEntries([bodyFile, ...rest].filter(Boolean).map((arg) => arg.split(/=(.*)/s, 2)));
    try {
      const status = await runExport(baseUrl, secret, JSON.parse(readFileSync(method, "utf8")), path, files);
      console.log(JSON.stringify(status));
      return 0;
    } catch (error) {
      console.error(String(error.message ?? error));
      return 1;
    }
  }
  if (command !== "request" || !method || !path || !baseUrl || !secret) {
    console.error("usage: EXPORT_API_URL=... EXPORT_SIGNING_SECRET=... export-client.mjs request METHOD PATH [body.json] [Header:value ...]");
    console.error("       EXPORT_API_URL=... EXPORT_SIGNING_SECRET=... export-client.mjs export request.json out.mp4 [src=path ...]");
    return 2;
  }
  const body = bodyFile && bodyFile !== "-" ? readFileSync(bodyFile, "utf8") : "";
  const extra = Object.fromEntries(rest.map((h) => [h.slice(0, h.indexOf(":")), h.slice(h.indexOf(":") + 1).trim()]));
  const result = await request(baseUrl, secret, method.toUpperCase(), path, body, extra);
  console.log(JSON.stringify(result));
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
