import { describe, expect, test } from "bun:test";
import type { ArgsDef, CommandDef, CommandMeta } from "citty";
import { renderCommandHelp, wrap, type CommandHelp } from "../../src/cli/help.ts";

const MODULES: Record<string, () => Promise<{ default: CommandDef<any>; help: CommandHelp }>> = {
  run: () => import("../../src/cli/commands/run.ts"),
  snapshot: () => import("../../src/cli/commands/snapshot.ts"),
  export: () => import("../../src/cli/commands/export.ts"),
  send: () => import("../../src/cli/commands/send.ts"),
  status: () => import("../../src/cli/commands/status.ts"),
  doctor: () => import("../../src/cli/commands/doctor.ts"),
};

async function helpOf(name: string): Promise<string> {
  const module = await MODULES[name]!();
  const meta = module.default.meta as CommandMeta;
  return renderCommandHelp(name, meta.description!, module.default.args as ArgsDef, module.help);
}

function section(text: string, title: string): string[] {
  const lines = text.split("\n");
  const start = lines.indexOf(title) + 1;
  const end = lines.indexOf("", start);
  return lines.slice(start, end);
}

describe("per-command help", () => {
  test("snapshot: Usage, a line of what it does, the options with their defaults, examples, exit codes", async () => {
    const text = await helpOf("snapshot");
    const lines = text.split("\n");
    expect(lines[0]).toBe("Usage: gpu_monitor snapshot [options]");
    expect(lines[1]).toBe("");
    expect(lines[2]).toBe("Read every GPU now and print it (no database, no config needed)");
    expect(section(text, "Options:")[0]).toStartWith("  -f, --format <table|json|csv>  Output format: table, json or csv (default:");
    expect(text).toContain("(default:\n                                 table)"); // wrapped under its own column
    expect(section(text, "Options:").at(-1)).toMatch(/^  -h, --help +Show this help$/);
    expect(section(text, "Exit codes:")).toEqual([
      "  0  success; --watch: stopped by Ctrl-C or SIGTERM",
      "  1  a GPU could not be read (the others are still printed)",
      "  2  bad usage or config",
      "  3  NVML unavailable: no library, or the driver not loaded",
    ]);
  });

  test("an option without a short form lines up under the long ones", async () => {
    const options = section(await helpOf("snapshot"), "Options:");
    const nvml = options.find((line) => line.includes("--nvml-library"))!;
    const format = options.find((line) => line.includes("--format"))!;
    expect(nvml.indexOf("--")).toBe(format.indexOf("--"));
  });

  test("a value that may be left out is shown in brackets", async () => {
    expect(section(await helpOf("snapshot"), "Options:").find((line) => line.includes("--watch"))).toStartWith("      --watch [SECONDS]  ");
  });

  test("export's Usage names the flag it needs", async () => {
    const text = await helpOf("export");
    expect(text.split("\n")[0]).toBe("Usage: gpu_monitor export --from TIME [options]");
    expect(text).toContain("      --from <TIME>         Start of the range (inclusive) (required)\n");
    expect(text).toContain("  -f, --format <json|csv>   json or csv (default: json)\n");
  });

  for (const name of Object.keys(MODULES)) {
    test(`${name}: every option, two examples, exit codes; descriptions start in one column, no line over 80`, async () => {
      const text = await helpOf(name);
      const module = await MODULES[name]!();
      for (const flag of Object.keys(module.default.args as ArgsDef)) expect(text).toContain(`--${flag}`);
      expect(section(text, "Examples:").filter((line) => line.startsWith("  $ gpu_monitor "))).toHaveLength(2);
      expect(section(text, "Exit codes:").filter((line) => /^  \d/.test(line)).map((line) => line.slice(0, 3))).toEqual(
        module.help.exitCodes[3] ? ["  0", "  1", "  2", "  3"] : ["  0", "  1", "  2"],
      );
      const starts = section(text, "Options:").map((line) => /^ {2}(-\S, | {4})--\S+( <[^>]+>| \[[^\]]+\])? +/.exec(line)?.[0].length ?? line.search(/\S/));
      expect(new Set(starts).size).toBe(1);
      for (const line of text.split("\n")) if (!line.startsWith("  $ ")) expect(Bun.stringWidth(line)).toBeLessThanOrEqual(80);
    });
  }
});

describe("wrap", () => {
  test("fills words into lines of at most the width; a longer word stands alone", () => {
    expect(wrap("a bb ccc dddd", 6)).toEqual(["a bb", "ccc", "dddd"]);
    expect(wrap("x /a/very/long/path y", 5)).toEqual(["x", "/a/very/long/path", "y"]);
    expect(wrap("", 10)).toEqual([""]);
  });
});
