// Where the Worker entry points are. In a compiled binary every bundled module's
// import.meta.url is the binary's root, and entry points keep their path below src/;
// from source this module sits in src/. Either way the same relative URL works.
export const SAMPLER_WORKER_URL = new URL("./schedule/samplerWorker.ts", import.meta.url).href;
