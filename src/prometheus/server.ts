// The /metrics endpoint: serves the exposition of what the agent holds in memory.
// A scrape never calls NVML and never touches the disk, so scraping cannot stall
// the GPU or the agent. Optional basic auth (bcrypt hashes, as Prometheus' web
// config has them) and TLS for a listener other hosts can reach.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { CONTENT_TYPE, exposition, gpuExposition, negotiate, type ExpositionFormat, type ScrapeState } from "./exposition.ts";

export interface MetricsServerOptions {
  /** "127.0.0.1:9400", "[::1]:9400", ":9400" (every address). */
  listen: string;
  /** User name -> bcrypt hash. */
  basicAuth?: Readonly<Record<string, string>> | undefined;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  /** The state at the moment of the scrape (the server counts the scrape in it). */
  state: () => ScrapeState;
  onScrape: () => void;
}

export interface MetricsServer {
  /** Where it listens, e.g. http://127.0.0.1:9400. */
  readonly url: string;
  stop(): void;
}

export class MetricsListenError extends Error {}

/** host and port from "host:port", "[v6]:port" or ":port". */
export function parseListen(listen: string): { hostname: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:\s]*)):(\d{1,5})$/.exec(listen.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new MetricsListenError(`metrics.listen must be host:port (e.g. 127.0.0.1:9400), not '${listen}'`);
  return { hostname: match[1] ?? (match[2] || "0.0.0.0"), port };
}

/** Whether only this host can reach the address. */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^127\./.test(hostname);
}

const INDEX = `<!doctype html>
<html><head><title>gpu_monitor</title></head>
<body><h1>gpu_monitor</h1><p><a href="/metrics">Metrics</a>: the latest sample of every GPU, with dcgm-exporter's names.</p></body></html>
`;

export function startMetricsServer(options: MetricsServerOptions): MetricsServer {
  const { hostname, port } = parseListen(options.listen);
  const auth = options.basicAuth && Object.keys(options.basicAuth).length > 0 ? new BasicAuth(options.basicAuth) : null;
  // The GPU part changes once a tick: built once per tick and format, not per scrape.
  let cached: { ts: number | null; gpus: unknown; format: ExpositionFormat; text: string } | null = null;
  const tls = options.tlsCert && options.tlsKey ? { cert: readFileSync(options.tlsCert, "utf8"), key: readFileSync(options.tlsKey, "utf8") } : undefined;
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname,
      port,
      ...(tls ? { tls } : {}),
      fetch: async (request) => {
        const url = new URL(request.url);
        if (request.method !== "GET" && request.method !== "HEAD") return new Response("only GET\n", { status: 405, headers: { Allow: "GET, HEAD" } });
        if (auth && !(await auth.allows(request.headers.get("authorization")))) {
          return new Response("authentication required\n", { status: 401, headers: { "WWW-Authenticate": 'Basic realm="gpu_monitor"' } });
        }
        if (url.pathname === "/") return new Response(INDEX, { headers: { "Content-Type": "text/html; charset=utf-8" } });
        if (url.pathname !== "/metrics") return new Response("not found\n", { status: 404 });
        options.onScrape();
        const state = options.state();
        const format = negotiate(request.headers.get("accept"));
        if (!cached || cached.ts !== state.lastSampleTs || cached.gpus !== state.gpus || cached.format !== format) {
          cached = { ts: state.lastSampleTs, gpus: state.gpus, format, text: gpuExposition(state, format) };
        }
        return new Response(exposition(state, format, cached.text), { headers: { "Content-Type": CONTENT_TYPE[format] } });
      },
      error: () => new Response("internal error\n", { status: 500 }),
    });
  } catch (error) {
    throw new MetricsListenError(`metrics endpoint could not listen on ${options.listen}: ${(error as Error).message}`);
  }
  const shownHost = hostname.includes(":") ? `[${hostname}]` : hostname;
  return { url: `${tls ? "https" : "http"}://${shownHost}:${server.port}`, stop: () => server.stop(true) };
}

/**
 * Basic auth against bcrypt hashes. A bcrypt check takes tens of milliseconds by
 * design; a scraper sends the same credentials every time, so a pair that passed
 * is remembered (by a digest, never in the clear) and later scrapes cost nothing.
 */
class BasicAuth {
  private readonly passed = new Set<string>();

  constructor(private readonly users: Readonly<Record<string, string>>) {}

  async allows(header: string | null): Promise<boolean> {
    const match = header ? /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header) : null;
    if (!match) return false;
    const decoded = Buffer.from(match[1]!, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return false;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const hash = Object.hasOwn(this.users, user) ? this.users[user]! : null;
    if (!hash) return false;
    const key = createHash("sha256").update(`${user}\0${password}\0${hash}`).digest("hex");
    if (this.passed.has(key)) return true;
    // htpasswd writes $2y$, the same algorithm as $2b$.
    const ok = await Bun.password.verify(password, hash.replace(/^\$2y\$/, "$2b$"), "bcrypt").catch(() => false);
    if (ok && this.passed.size < 64) this.passed.add(key);
    return ok;
  }
}
