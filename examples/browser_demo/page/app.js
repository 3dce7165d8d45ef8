// The page's half of an export: the files go from this browser straight to the presigned S3 URLs, the
// result plays from the presigned download URL. Only the API calls (presign, export, status, cancel) go
// through the demo backend, which signs them; this page never holds the signing secret.
import { meliesExport } from "./timeline.js";

const POLL_INTERVAL_MS = 1000;
const $ = (id) => document.getElementById(id);

function show(state, text, progress) {
  $("status").dataset.state = state;
  $("status").textContent = text;
  if (progress !== undefined) $("progress").value = progress;
}

/** One call to the demo backend (POST with a body, else `method`); its errors carry the API's readable
 *  message and code. */
async function backend(path, body, method = "GET") {
  const response = await fetch(path, body === undefined ? { method } : {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const payload = await response.json();
  if (!response.ok) throw new Error(`${payload.error} (${payload.code ?? response.status})`);
  return payload;
}

/** ".mp4" of "clip.mp4": names the stored key when the browser reports no media type. */
const extension = (name) => (name.includes(".") ? name.slice(name.lastIndexOf(".")) : undefined);

/** The file's duration as this browser reads it (seconds). */
function mediaDuration(file, tag) {
  return new Promise((resolve, reject) => {
    const element = document.createElement(tag);
    const url = URL.createObjectURL(file);
    element.preload = "metadata";
    element.onloadedmetadata = () => { URL.revokeObjectURL(url); resolve(element.duration); };
    element.onerror = () => { URL.revokeObjectURL(url); reject(new Error(`${file.name} is not playable media`)); };
    element.src = url;
  });
}

/** PUT to the presigned URL with exactly the headers it was issued for (the browser sets the length). */
async function upload({ uploadUrl, headers }, file) {
  const sent = Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== "content-length"));
  let response;
  try {
    response = await fetch(uploadUrl, { method: "PUT", headers: sent, body: file });
  } catch {
    throw new Error(`storage refused the upload of ${file.name} from ${location.origin} (CORS)`);
  }
  if (!response.ok) throw new Error(`upload of ${file.name} failed (${response.status})`);
}

const FINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);
let runningJobId;

async function waitForJob(jobId) {
  for (;;) {
    const job = await backend(`/api/export/${encodeURIComponent(jobId)}`);
    if (FINAL.has(job.status)) return job;
    if (job.status === "CANCELLING") show("cancelling", "Cancelling…");
    else show("rendering", `Rendering… ${Math.round((job.progress ?? 0) * 100)} %`, job.progress ?? 0);
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
  }
}

/** DELETE /export/<jobId> through the backend; the poll above sees the job end CANCELLED (or, when the
 *  render finished first, the API's 409 is shown and the export plays). */
$("cancel-button").addEventListener("click", async () => {
  if (!runningJobId) return;
  $("cancel-button").disabled = true;
  try {
    const { status } = await backend(`/api/export/${encodeURIComponent(runningJobId)}`, undefined, "DELETE");
    show("cancelling", status === "CANCELLED" ? "Cancelled." : "Cancelling…");
  } catch (error) {
    show("rendering", `Cancel refused: ${error.message}`);
  }
});

/** Loads the export into the player; done once a frame is decoded (the exports bucket must allow this origin). */
function play(downloadUrl) {
  const player = $("result");
  return new Promise((resolve, reject) => {
    player.addEventListener("loadeddata", resolve, { once: true });
    const refused = () => reject(new Error(`the export cannot be played here (${player.error?.message || "refused"})`));
    player.addEventListener("error", refused, { once: true });
    player.src = downloadUrl;
    player.hidden = false;
  });
}

async function exportFiles(videoFile, musicFile) {
  const files = [
    { file: videoFile, src: `video:${videoFile.name}`, duration: await mediaDuration(videoFile, "video") },
    { file: musicFile, src: `music:${musicFile.name}`, duration: await mediaDuration(musicFile, "audio") },
  ];
  show("uploading", "Uploading…", 0);
  const { uploads } = await backend("/api/presign", {
    assets: files.map(({ file, src }) => ({ src, contentType: file.type, ext: extension(file.name), size: file.size })),
  });
  await Promise.all(uploads.map((u, i) => upload(u, files[i].file)));

  const [video, music] = files.map(({ file, src, duration }) => ({ src, name: file.name, duration }));
  const { timeline, output } = meliesExport({ video, music });
  const assets = uploads.map(({ src, s3Key }) => ({ src, s3Key }));
  const { jobId } = await backend("/api/export", { timeline, assets, output });
  show("rendering", "Rendering…", 0);
  runningJobId = jobId;
  $("cancel-button").disabled = false;

  const job = await waitForJob(jobId).finally(() => {
    runningJobId = undefined;
    $("cancel-button").disabled = true;
  });
  if (job.status === "CANCELLED") return show("cancelled", "Export cancelled.", 0);
  if (job.status === "FAILED") throw new Error(`${job.error} (${job.errorCode})`);
  await play(job.downloadUrl);
  show("done", `Done: ${job.output.durationSeconds} s, ${job.output.width}×${job.output.height}.`, 1);
}

$("export-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const [videoFile] = $("video-file").files;
  const [musicFile] = $("music-file").files;
  $("export-button").disabled = true;
  try {
    await exportFiles(videoFile, musicFile);
  } catch (error) {
    show("failed", `Export failed: ${error.message}`);
  } finally {
    $("export-button").disabled = false;
  }
});
