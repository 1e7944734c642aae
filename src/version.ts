// The version string: baked in by packaging/build.ts with --define; from
// package.json when run from source.
import packageJson from "../package.json" with { type: "json" };

declare const GPU_MONITOR_VERSION: string | undefined;

export const VERSION: string =
  typeof GPU_MONITOR_VERSION === "string" ? GPU_MONITOR_VERSION : `${packageJson.version}-source`;
