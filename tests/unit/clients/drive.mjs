// Test driver: calls ONE function of clients/node/export-client.mjs, under Node or Deno, as a caller would.
//   node drive.mjs CALL.json        deno run --allow-net --allow-read drive.mjs CALL.json
// CALL.json: {"fn": "<exported name>", "args": {...}} where, inside args,
//   {"$bytes": "<base64>", "as": "uint8array" | "buffer" | "arraybuffer" | "blob"} becomes those bytes and
//   {"$recorder": true} becomes a callback recording each call's arguments (e.g. onProgress) and
//   {"$headers": {...}} becomes a fetch Headers object (what a Deno.serve handler gets as req.headers).
// Prints one JSON line: {"async": <returned a Promise>, "result": ...} or
// {"error": {"name", "message", "status", "body", "code"}}, with "calls" (what each recorder received, in
// order) and "elapsedMs".
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import process from "node:process";

import * as client from "../../../clients/node/export-client.mjs";

const calls = [];

function revive(value) {
  if (Array.isArray(value)) return value.map(revive);
  if (value && typeof value === "object") {
    if ("$bytes" in value) {
      const bytes = new Uint8Array(Buffer.from(value.$bytes, "base64"));
      switch (value.as ?? "uint8array") {
        case "buffer":
          return Buffer.from(bytes);
        case "arraybuffer":
          return bytes.buffer;
        case "blob":
          return new Blob([bytes]);
        default:
          return bytes;
      }
    }
    if ("$headers" in value) return new Headers(value.$headers);
    if (value.$recorder) {
      return (...args) => {
        calls.push(JSON.parse(JSON.stringify(args)));
      };
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v)]));
  }
  return value;
}

const { fn, args } = JSON.parse(readFileSync(process.argv[2], "utf8"));
const started = Date.now();
let out;
try {
  const returned = client[fn](revive(args));
  out = { async: returned instanceof Promise, result: (await returned) ?? null };
} catch (error) {
  out = {
    error: { name: error.name, message: error.message, status: error.status, body: error.body, code: error.code },
  };
}
console.log(JSON.stringify({ ...out, calls, elapsedMs: Date.now() - started }));
