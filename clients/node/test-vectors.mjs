// Checks the module's signer against the shared vectors (tests/vectors/signing.json), on Node or Deno:
//   node clients/node/test-vectors.mjs [path/to/signing.json]
//   deno run --allow-read clients/node/test-vectors.mjs [path/to/signing.json]
// Prints one line per vector and "<n>/<total> vectors match"; exit 0 only when every vector matches.
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";

import { buildSignedHeaders, computeExportSignature, SIGNATURE_HEADER, TIMESTAMP_HEADER } from "./export-client.mjs";

const defaultPath = fileURLToPath(new URL("../../tests/vectors/signing.json", import.meta.url));
const { vectors } = JSON.parse(readFileSync(process.argv[2] ?? defaultPath, "utf8"));
let failures = 0;
for (const v of vectors) {
  const bytes = new Uint8Array(Buffer.from(v.bodyBase64, "base64"));
  const base = { secret: v.secret, timestampMs: v.timestamp, method: v.method, path: v.path };
  const got = {
    bytes: computeExportSignature({ ...base, rawBody: bytes }),
    // a string body signs as its UTF-8 bytes (what fetch() sends), and a numeric timestamp as its digits
    text: computeExportSignature({ ...base, timestampMs: Number(v.timestamp), rawBody: new TextDecoder().decode(bytes) }),
    arrayBuffer: computeExportSignature({ ...base, rawBody: bytes.slice().buffer }),
  };
  const bad = Object.entries(got).filter(([, signature]) => signature !== v.signature);
  console.log(`${bad.length === 0 ? "ok  " : "FAIL"} ${v.name}${bad.map(([k, s]) => `; ${k}: got ${s}, want ${v.signature}`).join("")}`);
  if (bad.length > 0) failures += 1;
}
// buildSignedHeaders signs what computeExportSignature signs, and never reuses a millisecond
const stamps = new Set();
let headerFailures = 0;
for (let i = 0; i < 50; i += 1) {
  const headers = buildSignedHeaders({ secret: "k", method: "get", path: "/export/x" });
  const again = computeExportSignature({
    secret: "k", timestampMs: headers[TIMESTAMP_HEADER], method: "GET", path: "/export/x", rawBody: "",
  });
  if (headers[SIGNATURE_HEADER] !== again) {
    console.log(`FAIL buildSignedHeaders: ${headers[SIGNATURE_HEADER]} != ${again}`);
    headerFailures += 1;
  }
  stamps.add(headers[TIMESTAMP_HEADER]);
}
if (stamps.size !== 50) {
  console.log(`FAIL buildSignedHeaders reused a timestamp: ${50 - stamps.size} of 50`);
  headerFailures += 1;
}
console.log(`${vectors.length - failures}/${vectors.length} vectors match`);
process.exit(failures === 0 && headerFailures === 0 && vectors.length > 0 ? 0 : 1);
