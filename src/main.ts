#!/usr/bin/env bun
// Entry point of the gpu_monitor binary.
import { main } from "./cli/main.ts";

// `gpu_monitor -sc | head`: a reader that went away is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

process.exitCode = await main(process.argv.slice(2));
