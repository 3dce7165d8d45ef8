// The export request a Melies editor would send for one video and one music file: the video lane
// (its picture, effect1, and its own sound, effect2) and the music lane (effect0, looped by the service
// to the timeline's length), as `getTimelineSnapshot()` writes them.

/** Output of the demo: small enough to render in seconds on a laptop. */
export const OUTPUT = { width: 640, height: 360, fps: 25 };

/** Seconds rounded to the millisecond, as the editor stores them. */
const ms = (seconds) => Math.round(seconds * 1000) / 1000;

/**
 * `video`, `music`: `{ src, name, duration }` (seconds, from the browser's own media elements);
 * `src` is the opaque key that joins an action to its uploaded asset.
 */
export function meliesExport({ video, music }) {
  const end = ms(video.duration);
  return {
    timeline: {
      version: 1,
      editorData: [
        {
          id: "video",
          actions: [
            { id: "v1", start: 0, end, effectId: "effect1", data: { src: video.src, name: video.name, videoLayer: 0, offset: 0 } },
          ],
        },
        {
          id: "video-sound",
          actions: [{ id: "v1-sound", start: 0, end, effectId: "effect2", data: { src: video.src, offset: 0 } }],
        },
        {
          id: "music",
          actions: [{ id: "m1", start: 0, end, effectId: "effect0", data: { src: music.src, name: music.name } }],
        },
      ],
    },
    output: OUTPUT,
  };
}
