// The environment each service definition gives the agent, read from the files
// themselves: the packaging test checks that the three carry the same variables,
// and the agent benchmark runs the binary under the systemd unit's, so neither can
// drift from what is shipped.

import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = resolve(import.meta.dir, "..");

export const SERVICE_DEFINITIONS = {
  systemd: join(root, "packaging/systemd/gpu-monitor.service"),
  launchd: join(root, "packaging/launchd/com.targoman.gpu-monitor.plist"),
  winsw: join(root, "packaging/windows/gpu_monitor-service.xml"),
} as const;

export type ServiceManager = keyof typeof SERVICE_DEFINITIONS;

/** `Environment=A=1 B=2` lines of a unit's [Service] section (unquoted assignments: all ours are). */
export function systemdEnvironment(unit: string): Record<string, string> {
  const env: Record<string, string> = {};
  let section = "";
  for (const raw of unit.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("[")) section = line;
    if (section !== "[Service]" || !line.startsWith("Environment=")) continue;
    for (const assignment of line.slice("Environment=".length).split(/\s+/)) {
      if (/["'\\]/.test(assignment)) throw new Error(`Environment= with quotes or escapes is not parsed here: ${line}`);
      const at = assignment.indexOf("=");
      if (at > 0) env[assignment.slice(0, at)] = assignment.slice(at + 1);
    }
  }
  return env;
}

/** The `EnvironmentVariables` dictionary of a launchd plist (string values). */
export function launchdEnvironment(plist: string): Record<string, string> {
  const withoutComments = plist.replace(/<!--[\s\S]*?-->/g, "");
  const dict = /<key>EnvironmentVariables<\/key>\s*<dict>([\s\S]*?)<\/dict>/.exec(withoutComments)?.[1] ?? "";
  const env: Record<string, string> = {};
  for (const pair of dict.matchAll(/<key>([^<]*)<\/key>\s*<string>([^<]*)<\/string>/g)) env[pair[1]!] = pair[2]!;
  return env;
}

/** WinSW's `<env name="..." value="..."/>` elements. */
export function winswEnvironment(xml: string): Record<string, string> {
  const withoutComments = xml.replace(/<!--[\s\S]*?-->/g, "");
  const env: Record<string, string> = {};
  for (const element of withoutComments.matchAll(/<env\s+name="([^"]*)"\s+value="([^"]*)"\s*\/>/g)) env[element[1]!] = element[2]!;
  return env;
}

const PARSERS: Record<ServiceManager, (text: string) => Record<string, string>> = {
  systemd: systemdEnvironment,
  launchd: launchdEnvironment,
  winsw: winswEnvironment,
};

/** The environment the shipped definition for `manager` sets. */
export function serviceEnvironment(manager: ServiceManager): Record<string, string> {
  return PARSERS[manager](readFileSync(SERVICE_DEFINITIONS[manager], "utf8"));
}
