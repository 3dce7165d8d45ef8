#!/usr/bin/env node
// Minimal signed client for the video-export API (Node 20 built-ins only: fetch + node:crypto).
//
//   EXPORT_API_URL=... EXPORT_SIGNING_SECRET=... node scripts/node/export-client.mjs request POST /export body.json
//   node scripts/node/export-client.mjs request GET /export/<jobId>
//
// Prints one JSON line {"status": <http status>, "body": <parsed JSON body or text>}; exit code 0 when the
// request was sent (whatever the status), 2 on usage errors.
import { readFileSync } from "node:fs";
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

async function main(argv) {
  const [command, method, path, bodyFile, ...rest] = argv;
  const baseUrl = process.env.EXPORT_API_URL;
  const secret = process.env.EXPORT_SIGNING_SECRET;
  if (command !== "request" || !method || !path || !baseUrl || !secret) {
    console.error("usage: EXPORT_API_URL=... EXPORT_SIGNING_SECRET=... export-client.mjs request METHOD PATH [body.json] [Header:value ...]");
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
