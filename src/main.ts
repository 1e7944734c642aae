#!/usr/bin/env bun
// Entry point of the gpu_monitor binary.
import { main } from "./cli/main.ts";

process.exitCode = await main(process.argv.slice(2));
