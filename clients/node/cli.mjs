#!/usr/bin/env node
// Command line of the export client (Node 20+ or Deno); the API URL and secret come from the environment,
// `EXPORT_API_URL` (with its stage) and `EXPORT_SIGNING_SECRET` (`eval "$(make -s dev-env)"` locally).
//
//   node clients/node/cli.mjs sign METHOD PATH [BODY_FILE]
//       Prints the two signature headers as curl arguments, one per line ("-H", "name: value", ...):
//         mapfile -t sig < <(node clients/node/cli.mjs sign POST /export body.json)
//         curl "${sig[@]}" -H 'content-type: application/json' --data-binary @body.json "$EXPORT_API_URL/export"
//       The body file is signed byte for byte (omit it for GET). Needs only EXPORT_SIGNING_SECRET.
//
//   node clients/node/cli.mjs export JOB.json OUT.mp4
//       JOB.json is {"timeline": {...}, "assets": [{"src", "path", "contentType"?, "ext"?}]}; each `path`
//       (absolute, or relative to JOB.json's folder) is read from disk and uploaded as the asset `src`
//       through exportVideo(). Progress goes to stderr, the final job JSON (one line) to stdout, and the
//       job's downloadUrl is saved to OUT.mp4. Exit 0 when the job SUCCEEDED and was downloaded, 1 when it
//       FAILED or anything went wrong (including exportVideo's 10-minute wait running out), 2 on usage
//       errors.
import { readFileSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import process from "node:process";

import { buildSignedHeaders, exportVideo } from "./export-client.mjs";

const USAGE = `usage: cli.mjs sign METHOD PATH [BODY_FILE]
       cli.mjs export JOB.json OUT.mp4
environment: EXPORT_API_URL (export only), EXPORT_SIGNING_SECRET`;

class UsageError extends Error {}

function sign([method, path, bodyFile, ...extra]) {
  const secret = process.env.EXPORT_SIGNING_SECRET;
  if (!method || !path || extra.length > 0) throw new UsageError("sign needs METHOD PATH [BODY_FILE]");
  if (!secret) throw new UsageError("EXPORT_SIGNING_SECRET is not set");
  const rawBody = bodyFile ? readFileSync(bodyFile) : "";
  for (const [name, value] of Object.entries(buildSignedHeaders({ secret, method, path, rawBody }))) {
    console.log("-H");
    console.log(`${name}: ${value}`);
  }
  return 0;
}

function readJob(jobFile) {
  const job = JSON.parse(readFileSync(jobFile, "utf8"));
  const unknown = Object.keys(job).filter((key) => key !== "timeline" && key !== "assets");
  if (unknown.length > 0) throw new UsageError(`${jobFile}: unexpected keys ${unknown.join(", ")}`);
  if (!job.timeline || typeof job.timeline !== "object") throw new UsageError(`${jobFile}: no timeline`);
  const assets = job.assets ?? [];
  if (!Array.isArray(assets)) throw new UsageError(`${jobFile}: assets must be a list`);
  for (const [i, asset] of assets.entries()) {
    if (!asset || typeof asset.src !== "string" || typeof asset.path !== "string") {
      throw new UsageError(`${jobFile}: assets[${i}] needs a src and a path`);
    }
  }
  return { timeline: job.timeline, assets };
}

async function runExport(args) {
  if (args.length !== 2 || args.some((arg) => arg.startsWith("--"))) {
    throw new UsageError("export needs JOB.json OUT.mp4");
  }
  const [jobFile, outPath] = args;
  const baseUrl = process.env.EXPORT_API_URL;
  const secret = process.env.EXPORT_SIGNING_SECRET;
  if (!baseUrl || !secret) throw new UsageError("EXPORT_API_URL and EXPORT_SIGNING_SECRET must be set");
  const { timeline, assets } = readJob(jobFile);
  const base = dirname(resolve(jobFile));
  const withBodies = await Promise.all(
    assets.map(async ({ src, path, contentType, ext }) => ({
      src,
      contentType,
      ext,
      body: await readFile(isAbsolute(path) ? path : resolve(base, path)),
    })),
  );
  let last = "";
  const job = await exportVideo({
    baseUrl,
    secret,
    timeline,
    assets: withBodies,
    onProgress(polled) {
      const line = `job ${polled.jobId} ${polled.status}` +
        (typeof polled.progress === "number" ? ` ${Math.round(polled.progress * 100)}%` : "");
      if (line !== last) console.error(line);
      last = line;
    },
  });
  console.log(JSON.stringify(job));
  if (job.status !== "SUCCEEDED") return 1;
  const download = await fetch(job.downloadUrl);
  if (!download.ok) throw new Error(`download failed (${download.status}): ${await download.text()}`);
  writeFileSync(outPath, new Uint8Array(await download.arrayBuffer()));
  console.error(`saved ${outPath}`);
  return 0;
}

async function main([command, ...args]) {
  try {
    if (command === "sign") return sign(args);
    if (command === "export") return await runExport(args);
    throw new UsageError(command ? `unknown command ${command}` : "no command");
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`error: ${error.message}\n${USAGE}`);
      return 2;
    }
    console.error(`error: ${error?.message ?? error}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
