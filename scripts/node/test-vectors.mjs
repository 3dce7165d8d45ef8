// Checks sign.mjs against the shared vectors (tests/vectors/signing.json); run by pytest and by hand:
//   node scripts/node/test-vectors.mjs [path/to/signing.json]
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { sign, signRequest, SIGNATURE_HEADER, TIMESTAMP_HEADER } from "./sign.mjs";

const defaultPath = fileURLToPath(new URL("../../tests/vectors/signing.json", import.meta.url));
const { vectors } = JSON.parse(readFileSync(process.argv[2] ?? defaultPath, "utf8"));
let failures = 0;
for (const v of vectors) {
  const body = Buffer.from(v.bodyBase64, "base64");
  const got = sign(v.secret, v.timestamp, v.method, v.path, body);
  // a string body must sign like its UTF-8 bytes (what a fetch() caller passes)
  const asText = sign(v.secret, v.timestamp, v.method, v.path, body.toString("utf8"));
  const headers = signRequest(v.secret, v.method, v.path, body, Number(v.timestamp));
  const ok =
    got === v.signature &&
    asText === v.signature &&
    headers[SIGNATURE_HEADER] === v.signature &&
    headers[TIMESTAMP_HEADER] === v.timestamp;
  console.log(`${ok ? "ok  " : "FAIL"} ${v.name}${ok ? "" : `: got ${got}, want ${v.signature}`}`);
  if (!ok) failures += 1;
}
console.log(`${vectors.length - failures}/${vectors.length} vectors match`);
process.exit(failures === 0 && vectors.length > 0 ? 0 : 1);
