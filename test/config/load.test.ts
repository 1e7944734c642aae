import { describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, configSearchPaths, loadConfig, othersWhoRead, parseConfig, type ConfigSources } from "../../src/config/load.ts";
import { invalidUtf8Offset } from "../../src/util/text.ts";

function folder(): string {
  return mkdtempSync(join(tmpdir(), "gpu-monitor-config-"));
}

function sources(overrides: Partial<ConfigSources> = {}): ConfigSources {
  const cwd = overrides.cwd ?? folder();
  return { env: {}, cwd, platform: "linux", home: join(cwd, "home"), ...overrides };
}

function write(path: string, text: string): string {
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

function loadError(text: string): string {
  const file = write(join(folder(), "config.json"), text);
  try {
    loadConfig(sources({ explicitPath: file }));
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("finding the config", () => {
  test("search order: ./config.json, the per-user file, the system file", () => {
    expect(configSearchPaths({ env: {}, cwd: "/srv", platform: "linux", home: "/home/ops" })).toEqual([
      "/srv/config.json",
      "/home/ops/.gpu_monitor/config.json",
      "/etc/gpu_monitor/config.json",
    ]);
    expect(
      configSearchPaths({ env: { APPDATA: "C:\\Users\\ops\\AppData\\Roaming", ProgramData: "C:\\ProgramData" }, cwd: "C:\\srv", platform: "win32", home: "C:\\Users\\ops" }),
    ).toHaveLength(3);
  });

  test("no file at all is valid: offline defaults", () => {
    const loaded = loadConfig(sources());
    expect(loaded.file).toBeNull();
    expect(loaded.config.server.url).toBeUndefined();
    expect(loaded.config.collection).toEqual({ interval_seconds: 60, aggregation_interval_hours: 1, processes: "on" });
    expect(loaded.config.server.send_processes).toBe(false);
    expect(loaded.config.retention).toEqual({ raw_days: 30, aggregated_days: 365 });
    expect(loaded.config.logging.level).toBe("INFO");
  });

  test("--config wins over $GPU_MONITOR_CONFIG, which wins over ./config.json", () => {
    const cwd = folder();
    write(join(cwd, "config.json"), '{"collection": {"interval_seconds": 1}}');
    const fromEnv = write(join(cwd, "env.json"), '{"collection": {"interval_seconds": 2}}');
    const explicit = write(join(cwd, "explicit.json"), '{"collection": {"interval_seconds": 3}}');
    expect(loadConfig(sources({ cwd })).config.collection.interval_seconds).toBe(1);
    expect(loadConfig(sources({ cwd, env: { GPU_MONITOR_CONFIG: fromEnv } })).config.collection.interval_seconds).toBe(2);
    expect(
      loadConfig(sources({ cwd, env: { GPU_MONITOR_CONFIG: fromEnv }, explicitPath: explicit })).config.collection
        .interval_seconds,
    ).toBe(3);
  });

  test("the per-user file is found when the working directory has none", () => {
    const cwd = folder();
    mkdirSync(join(cwd, "home", ".gpu_monitor"), { recursive: true });
    const user = write(join(cwd, "home", ".gpu_monitor", "config.json"), '{"database": {"file": "m.db"}}');
    const loaded = loadConfig(sources({ cwd }));
    expect(loaded.file).toBe(user);
    expect(loaded.config.database.file).toBe(join(cwd, "home", ".gpu_monitor", "m.db"));
  });

  test("a --config that does not exist is an error naming it", () => {
    expect(() => loadConfig(sources({ explicitPath: "/nonexistent/config.json" }))).toThrow(
      "config file /nonexistent/config.json does not exist",
    );
  });
});

describe("reading it", () => {
  test("the original tool's example config, with comments", () => {
    const dir = folder();
    const file = write(
      join(dir, "config.json"),
      `{
        // as in the original README
        "server": { "url": "https://example.com/api/metrics", "contract_number": "12345" },
        "collection": { "interval_seconds": 60, "aggregation_interval_hours": 1 },
        "database": { "file": "gpu_metrics.db" }, /* relative to this file */
        "logging": { "file": "gpu_monitor.log", "level": "info" }
      }`,
    );
    const { config, warnings } = loadConfig(sources({ explicitPath: file }));
    expect(warnings).toEqual([]);
    expect(config.server).toMatchObject({ url: "https://example.com/api/metrics", contract_number: "12345", timeout_seconds: 30, max_attempts: 10 });
    expect(config.database.file).toBe(join(dir, "gpu_metrics.db"));
    expect(config.logging).toMatchObject({ file: join(dir, "gpu_monitor.log"), level: "INFO" });
  });

  test("legacy keys are accepted with a deprecation warning", () => {
    const dir = folder();
    const file = write(
      join(dir, "config.json"),
      '{"intervals": {"collection": 30}, "paths": {"database": "/var/lib/g.db", "log": "g.log"}, "server": {"offline": true}}',
    );
    const loaded = loadConfig(sources({ explicitPath: file }));
    expect(loaded.config.collection.interval_seconds).toBe(30);
    expect(loaded.config.database.file).toBe("/var/lib/g.db");
    expect(loaded.config.logging.file).toBe(join(dir, "g.log"));
    expect(loaded.offline).toBe(true);
    expect(loaded.warnings).toEqual([
      `${file}: intervals.collection is deprecated, use collection.interval_seconds`,
      `${file}: paths.database is deprecated, use database.file`,
      `${file}: paths.log is deprecated, use logging.file`,
      `${file}: server.offline is deprecated, use the -o/--offline flag or leave server.url unset`,
    ]);
  });

  test("secrets and the library path from the environment win over the file", () => {
    const file = write(join(folder(), "config.json"), '{"server": {"token": "from-file"}, "nvml": {"library": "/a/nvml.so"}}');
    const { config } = loadConfig(sources({ explicitPath: file, env: { GPU_MONITOR_TOKEN: "from-env", GPU_MONITOR_NVML_LIBRARY: "/b/nvml.so" } }));
    expect(config.server.token).toBe("from-env");
    expect(config.nvml.library).toBe("/b/nvml.so");
  });

  test("the token: a systemd credential, then GPU_MONITOR_TOKEN, then server.token", () => {
    const file = write(join(folder(), "config.json"), '{"server": {"token": "from-file"}}');
    const credentials = folder();
    const token = (env: Record<string, string>) => loadConfig(sources({ explicitPath: file, env })).config.server.token;
    expect(token({})).toBe("from-file");
    expect(token({ GPU_MONITOR_TOKEN: "from-env" })).toBe("from-env");
    // The unit's SetCredential= fallback leaves a credential of one newline when /etc/gpu_monitor/token is missing.
    write(join(credentials, "token"), "\n");
    expect(token({ CREDENTIALS_DIRECTORY: credentials, GPU_MONITOR_TOKEN: "from-env" })).toBe("from-env");
    expect(token({ CREDENTIALS_DIRECTORY: join(credentials, "none") })).toBe("from-file");
    write(join(credentials, "token"), "from-credential\n");
    expect(token({ CREDENTIALS_DIRECTORY: credentials, GPU_MONITOR_TOKEN: "from-env" })).toBe("from-credential");
  });

  test("under systemd the journal keeps the log: a log file only when the config names one", () => {
    const dir = folder();
    const systemd = { JOURNAL_STREAM: "8:1234" };
    const logFile = (text: string, env: Record<string, string>) =>
      loadConfig(sources({ explicitPath: write(join(dir, "config.json"), text), env })).config.logging.file;
    expect(logFile("{}", {})).toBe(join(dir, "gpu_monitor.log"));
    expect(logFile("{}", systemd)).toBe("");
    expect(logFile('{"logging": {"level": "DEBUG"}}', { INVOCATION_ID: "0123abcd" })).toBe("");
    expect(logFile('{"logging": {"file": "agent.log"}}', systemd)).toBe(join(dir, "agent.log"));
    expect(logFile('{"paths": {"log": "old.log"}}', systemd)).toBe(join(dir, "old.log"));
    expect(loadConfig(sources({ env: systemd })).config.logging.file).toBe(""); // no config file: the defaults
  });

  test("a token in a file others can read earns a warning", () => {
    const file = write(join(folder(), "config.json"), '{"server": {"token": "secret"}}');
    chmodSync(file, 0o644);
    const { warnings } = loadConfig(sources({ explicitPath: file }));
    expect(warnings).toEqual([`config file ${file} holds server.token and others can read it: chmod 600 ${file}`]);
    expect(warnings.join()).not.toContain("secret\"");
  });
});

describe("errors name the file, the key, what was expected and what was found", () => {
  test("an unknown key, with a did-you-mean", () => {
    const message = loadError('{"server": {"urll": "https://x"}}');
    expect(message).toMatch(/config\.json: unknown key server\.urll \(did you mean server\.url\?\)/);
  });
  test("an unknown section", () => {
    expect(loadError('{"colection": {}}')).toContain("unknown key colection (did you mean collection?)");
  });
  test("a wrong type", () => {
    expect(loadError('{"collection": {"interval_seconds": "60"}}')).toMatch(
      /config\.json: collection\.interval_seconds: expected a whole number of seconds, found "60"$/,
    );
  });
  test("a value out of range", () => {
    expect(loadError('{"collection": {"interval_seconds": 0}}')).toContain(
      "collection.interval_seconds: expected a whole number of seconds of at least 1, found 0",
    );
  });
  test("a bad log level lists the levels", () => {
    expect(loadError('{"logging": {"level": "verbose"}}')).toContain(
      'logging.level: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL (any case), found "verbose"',
    );
  });
  test("a URL that is not http(s)", () => {
    expect(loadError('{"server": {"url": "ftp://example.com"}}')).toContain("server.url: expected an http:// or https:// URL");
  });
  test("not JSON at all", () => {
    expect(loadError('{"server": ')).toMatch(/config\.json is not valid JSON/);
  });
  test("a list at the top", () => {
    expect(loadError("[]")).toContain("expected a JSON object at the top level, found a list");
  });
});

describe("every number has a bound and a unit", () => {
  for (const [text, message] of [
    ['{"collection": {"interval_seconds": 1e300}}', "collection.interval_seconds: expected a whole number of seconds of at most 3600 (an hour), found 1e+300"],
    ['{"collection": {"aggregation_interval_hours": 1e9}}', "collection.aggregation_interval_hours: expected a number of hours of at most 24 (a day), found 1000000000"],
    ['{"collection": {"aggregation_interval_seconds": 172800}}', "collection.aggregation_interval_seconds: expected a whole number of seconds of at most 86400 (a day), found 172800"],
    ['{"server": {"timeout_seconds": 1e6}}', "server.timeout_seconds: expected a number of seconds of at most 600 (10 minutes), found 1000000"],
    ['{"server": {"retry_initial_seconds": 1e12}}', "server.retry_initial_seconds: expected a number of seconds of at most 86400 (a day), found 1000000000000"],
    ['{"server": {"retry_max_seconds": 1e12}}', "server.retry_max_seconds: expected a number of seconds of at most 86400 (a day), found 1000000000000"],
    ['{"server": {"max_attempts": 1e9}}', "server.max_attempts: expected a whole number of attempts of at most 1000, found 1000000000"],
    ['{"logging": {"max_size_mb": 1e9}}', "logging.max_size_mb: expected a size in MB of at most 10240, found 1000000000"],
    ['{"logging": {"max_files": 5000}}', "logging.max_files: expected a whole number of files of at most 100, found 5000"],
    ['{"retention": {"raw_days": 1e6}}', "retention.raw_days: expected a number of days of at most 3650 (ten years), found 1000000"],
    ['{"retention": {"aggregated_days": 1e6}}', "retention.aggregated_days: expected a number of days of at most 36500 (a hundred years), found 1000000"],
  ] as const) {
    test(text, () => {
      expect(loadError(text)).toMatch(new RegExp(`config\\.json: ${message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`));
    });
  }

  test("a window that is not a whole multiple of the interval is an error naming both, never rounded", () => {
    expect(loadError('{"collection": {"aggregation_interval_hours": 0.001}}')).toMatch(
      /config\.json: collection\.aggregation_interval_hours \(0\.001 h = 3\.6 s\) must be a whole multiple of collection\.interval_seconds \(60 s\)$/,
    );
    expect(loadError('{"collection": {"aggregation_interval_hours": 0.00001}}')).toContain(
      "collection.aggregation_interval_hours (0.00001 h = 0.036 s) must be a whole multiple of collection.interval_seconds (60 s)",
    );
    expect(loadError('{"collection": {"interval_seconds": 7, "aggregation_interval_seconds": 30}}')).toContain(
      "collection.aggregation_interval_seconds (30 s) must be a whole multiple of collection.interval_seconds (7 s)",
    );
  });

  test("windows that hold whole ticks are fine, 0.1 h included", () => {
    const ok = (text: string) => loadConfig(sources({ explicitPath: write(join(folder(), "config.json"), text) })).config.collection;
    expect(ok('{"collection": {"interval_seconds": 60, "aggregation_interval_hours": 0.1}}').aggregation_interval_hours).toBe(0.1);
    expect(ok('{"collection": {"interval_seconds": 3600, "aggregation_interval_hours": 24}}').interval_seconds).toBe(3600);
    expect(ok('{"collection": {"interval_seconds": 5, "aggregation_interval_seconds": 86400}}').aggregation_interval_seconds).toBe(86400);
  });
});

describe("a section of the wrong type", () => {
  test("says what the section must be and what was found", () => {
    expect(loadError('{"server": "https://x"}')).toMatch(/config\.json: server must be an object, found a string$/);
    expect(loadError('{"logging": []}')).toMatch(/config\.json: logging must be an object, found an array$/);
    expect(loadError('{"collection": 60}')).toMatch(/config\.json: collection must be an object, found a number$/);
    expect(loadError('{"paths": null}')).toMatch(/config\.json: paths must be an object, found null$/);
  });
});

describe("a file that is not UTF-8 text", () => {
  test("is refused, naming the file and the offset of the first bad byte", () => {
    const file = join(folder(), "config.json");
    writeFileSync(file, Buffer.concat([Buffer.from('{"logging": {"file": "caf'), Buffer.from([0xe9]), Buffer.from('.log"}}')]), { mode: 0o600 });
    expect(() => loadConfig(sources({ explicitPath: file }))).toThrow(`config file ${file} is not valid UTF-8: byte 0xe9 at offset 25; save it as UTF-8 text`);
  });

  test("binary garbage is refused at its first bad byte", () => {
    const file = join(folder(), "config.json");
    writeFileSync(file, Buffer.from([0x7b, 0x1b, 0x5b, 0x32, 0x4a, 0xff, 0xfe, 0x00]), { mode: 0o600 });
    expect(() => loadConfig(sources({ explicitPath: file }))).toThrow("is not valid UTF-8: byte 0xff at offset 5");
  });

  test("overlong forms and surrogates are not UTF-8; every script is", () => {
    expect(invalidUtf8Offset(Buffer.from("é 日本 € 🎉 ok"))).toBeNull();
    expect(invalidUtf8Offset(Buffer.from([0x41, 0xc0, 0xaf]))).toBe(1);
    expect(invalidUtf8Offset(Buffer.from([0xed, 0xa0, 0x80]))).toBe(0);
    expect(invalidUtf8Offset(Buffer.from([0x41, 0x42, 0xe2, 0x82]))).toBe(2);
  });
});

describe("a password in server.url", () => {
  test("in a file others can read earns a warning, as a token does, without the password", () => {
    const file = write(join(folder(), "config.json"), '{"server": {"url": "https://agent:hunter2pw@example.com/api"}}');
    chmodSync(file, 0o644);
    const { warnings } = loadConfig(sources({ explicitPath: file }));
    expect(warnings).toEqual([`config file ${file} holds a password in server.url and others can read it: chmod 600 ${file}`]);
  });

  test("in a file only its owner reads draws none", () => {
    const file = write(join(folder(), "config.json"), '{"server": {"url": "https://agent:hunter2pw@example.com/api"}}');
    expect(loadConfig(sources({ explicitPath: file })).warnings).toEqual([]);
  });

  test("never appears in an error about the URL", () => {
    const message = loadError('{"server": {"url": "htps://agent:hunter2pw@example.com/api"}}');
    expect(message).toContain("server.url: expected an http:// or https:// URL");
    expect(message).not.toContain("hunter2pw");
  });
});


describe("metrics (the Prometheus endpoint)", () => {
  const HASH = "$2y$10$" + "a".repeat(53);
  test("off by default; host:port, [v6]:port or :port; bcrypt hashes by user", () => {
    expect(parseConfig({}, "c.json").config.metrics).toEqual({});
    for (const listen of ["127.0.0.1:9400", "[::1]:9400", ":9400", "gpu-host.example:9400"]) {
      expect(parseConfig({ metrics: { listen } }, "c.json").config.metrics.listen).toBe(listen);
    }
    expect(parseConfig({ metrics: { listen: ":9400", basic_auth: { prometheus: HASH } } }, "c.json").config.metrics.basic_auth).toEqual({ prometheus: HASH });
  });

  test("a bad address, a password instead of a hash, or half a TLS pair is an error naming the key", () => {
    expect(() => parseConfig({ collection: { processes: "yes" } }, "c.json")).toThrow(/c\.json.*collection\.processes.*one of "on", "off", "hashed"/);
    expect(() => parseConfig({ server: { send_processes: "true" } }, "c.json")).toThrow(/c\.json.*server\.send_processes.*true or false/);
    expect(parseConfig({ collection: { processes: "hashed" }, server: { send_processes: true } }, "c.json").config.collection.processes).toBe("hashed");
    expect(() => parseConfig({ metrics: { listen: "9400" } }, "c.json")).toThrow(/metrics\.listen.*host:port/);
    expect(() => parseConfig({ metrics: { listen: ":70000" } }, "c.json")).toThrow(/metrics\.listen.*65535/);
    expect(() => parseConfig({ metrics: { basic_auth: { prometheus: "hunter2" } } }, "c.json")).toThrow(/metrics\.basic_auth.*bcrypt/);
    expect(() => parseConfig({ metrics: { tls_cert: "cert.pem" } }, "c.json")).toThrow(new ConfigError("c.json: metrics.tls_cert and metrics.tls_key go together: set both or neither"));
  });
});

describe("who else may read a file on Windows (icacls output)", () => {
  test("a file under ProgramData that inherits Users' read access", () => {
    const output = [
      "C:\\ProgramData\\gpu_monitor\\config.json NT AUTHORITY\\SYSTEM:(I)(F)",
      "                                        BUILTIN\\Administrators:(I)(F)",
      "                                        CREATOR OWNER:(I)(OI)(CI)(IO)(F)",
      "                                        BUILTIN\\Users:(I)(RX)",
      "                                        BUILTIN\\Users:(I)(CI)(WD,AD,WEA,WA)",
      "",
      "Successfully processed 1 files; Failed processing 0 files",
    ].join("\r\n");
    expect(othersWhoRead(output)).toEqual(["BUILTIN\\Users"]);
  });

  test("the folder install.ps1 makes: Administrators and the service's own account only", () => {
    const output = [
      "C:\\ProgramData\\gpu_monitor\\config.json BUILTIN\\Administrators:(I)(F)",
      "                                        NT SERVICE\\gpu-monitor:(I)(M)",
      "",
      "Successfully processed 1 files; Failed processing 0 files",
    ].join("\r\n");
    expect(othersWhoRead(output)).toEqual([]);
  });

  test("Everyone, Authenticated Users, SIDs, specific rights and deny entries", () => {
    expect(othersWhoRead("C:\\a.json Everyone:(R)")).toEqual(["Everyone"]);
    expect(othersWhoRead("C:\\a.json NT AUTHORITY\\Authenticated Users:(M)")).toEqual(["NT AUTHORITY\\Authenticated Users"]);
    expect(othersWhoRead("C:\\a.json *S-1-1-0:(RD,REA,RA)")).toEqual(["*S-1-1-0"]);
    expect(othersWhoRead("C:\\a.json Everyone:(DENY)(R)\r\n          Everyone:(W)")).toEqual([]);
    expect(othersWhoRead("C:\\a.json BUILTIN\\Users:(OI)(CI)(GR,GE)")).toEqual(["BUILTIN\\Users"]);
    expect(othersWhoRead("C:\\a BUILTIN\\Users:(OI)(CI)(IO)(GR,GE)")).toEqual([]); // for what the folder will hold, not the folder
  });
});
