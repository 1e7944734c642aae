// Headless Chromium driven over the DevTools protocol with Bun's own WebSocket:
// opens a page, records every request it makes and every console error and
// exception, and answers evaluations, mouse moves, screenshots and PDFs. The
// network is closed three ways: no name resolves, every proxied request goes to
// a dead port, and any request the page makes that is not its own file is failed
// (and recorded, so a test can fail on it).
//
// Why not playwright-core: we need seven protocol methods; playwright-core is a
// large dependency that wants its own browser builds and launches Chromium over a
// pipe on extra file descriptors. Debian's chromium and a WebSocket are enough.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Flags that keep Chromium from making requests of its own and from needing a desktop. */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--no-default-browser-check",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-extensions",
  "--disable-default-apps",
  "--metrics-recording-only",
  "--hide-scrollbars",
  "--mute-audio",
  "--host-resolver-rules=MAP * ~NOTFOUND",
  "--proxy-server=http://127.0.0.1:9",
  "--proxy-bypass-list=<-loopback>",
  "--remote-debugging-port=0",
];

export interface PageSession {
  /** Every URL the page asked for (its own file included). */
  requests: string[];
  /** Console errors, uncaught exceptions and browser log errors (a CSP refusal, a failed load). */
  errors: string[];
  evaluate<T>(expression: string): Promise<T>;
  mouseMove(x: number, y: number): Promise<void>;
  setColorScheme(scheme: "light" | "dark"): Promise<void>;
  /** A PNG of the page's top `height` CSS pixels. */
  screenshot(height: number): Promise<Uint8Array>;
  pdf(): Promise<Uint8Array>;
  close(): Promise<void>;
}

type Message = { id?: number; method?: string; params?: any; result?: any; error?: { message: string }; sessionId?: string };

/** Opens `url` (a file URL) in a fresh headless Chromium with its own profile, the page `width` CSS pixels wide. */
export async function openPage(url: string, width = 1280, height = 900): Promise<PageSession> {
  const profile = mkdtempSync(join(tmpdir(), "gpu-monitor-chromium-"));
  const browser = Bun.spawn([CHROMIUM, ...FLAGS, `--user-data-dir=${profile}`, `--window-size=${width},${height}`, "about:blank"], {
    stdout: "ignore",
    stderr: "pipe",
  });
  const endpoint = await devtoolsEndpoint(browser.stderr as ReadableStream<Uint8Array>);
  const socket = new WebSocket(endpoint);
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error(`cannot connect to Chromium at ${endpoint}`));
  });

  let nextId = 1;
  const waiting = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>();
  const listeners: Array<(message: Message) => void> = [];
  socket.onmessage = (event) => {
    const message = JSON.parse(String(event.data)) as Message;
    if (message.id !== undefined) {
      const waiter = waiting.get(message.id);
      waiting.delete(message.id);
      if (message.error) waiter?.reject(new Error(message.error.message));
      else waiter?.resolve(message.result);
    } else for (const listener of listeners) listener(message);
  };
  const send = (method: string, params: object = {}, sessionId?: string): Promise<any> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });

  const { targetId } = await send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
  const page = (method: string, params: object = {}) => send(method, params, sessionId);

  const requests: string[] = [];
  const errors: string[] = [];
  let loaded: () => void = () => {};
  const load = new Promise<void>((resolve) => (loaded = resolve));
  listeners.push((message) => {
    if (message.sessionId !== sessionId) return;
    const params = message.params;
    switch (message.method) {
      case "Network.requestWillBeSent":
        requests.push(params.request.url);
        break;
      case "Fetch.requestPaused":
        // Only the page's own file may load; anything else is refused (and was recorded above).
        if (params.request.url === url) void page("Fetch.continueRequest", { requestId: params.requestId });
        else void page("Fetch.failRequest", { requestId: params.requestId, errorReason: "BlockedByClient" });
        break;
      case "Runtime.consoleAPICalled":
        if (params.type === "error" || params.type === "assert") errors.push(`console.${params.type}: ${params.args.map((a: any) => a.value ?? a.description).join(" ")}`);
        break;
      case "Runtime.exceptionThrown":
        errors.push(`exception: ${params.exceptionDetails.exception?.description ?? params.exceptionDetails.text}`);
        break;
      case "Log.entryAdded":
        if (params.entry.level === "error") errors.push(`log: ${params.entry.text}${params.entry.url ? ` (${params.entry.url})` : ""}`);
        break;
      case "Page.loadEventFired":
        loaded();
        break;
    }
  });
  await Promise.all([page("Runtime.enable"), page("Log.enable"), page("Network.enable"), page("Page.enable")]);
  await page("Fetch.enable", { patterns: [{ urlPattern: "*" }] });
  await page("Emulation.setDeviceMetricsOverride", { width, height, deviceScaleFactor: 1, mobile: false });
  await page("Page.navigate", { url });
  await Promise.race([load, Bun.sleep(15_000).then(() => Promise.reject(new Error(`${url} did not finish loading in 15 s`)))]);
  // Late errors (a script's, a refused load) come within a moment of the load event.
  await Bun.sleep(300);

  return {
    requests,
    errors,
    async evaluate<T>(expression: string): Promise<T> {
      const result = await page("Runtime.evaluate", { expression, returnByValue: true, awaitPromise: true });
      if (result.exceptionDetails) throw new Error(`evaluating ${expression}: ${result.exceptionDetails.exception?.description ?? result.exceptionDetails.text}`);
      return result.result.value as T;
    },
    async mouseMove(x, y) {
      await page("Input.dispatchMouseEvent", { type: "mouseMoved", x, y });
    },
    async setColorScheme(scheme) {
      await page("Emulation.setEmulatedMedia", { features: [{ name: "prefers-color-scheme", value: scheme }] });
    },
    async screenshot(clipHeight) {
      const { data } = await page("Page.captureScreenshot", {
        format: "png",
        captureBeyondViewport: true,
        clip: { x: 0, y: 0, width, height: clipHeight, scale: 1 },
      });
      return Buffer.from(data, "base64");
    },
    async pdf() {
      const { data } = await page("Page.printToPDF", { printBackground: true });
      return Buffer.from(data, "base64");
    },
    async close() {
      try {
        await Promise.race([send("Browser.close"), Bun.sleep(2000)]);
      } catch {
        // the browser may close the socket before it answers
      }
      socket.close();
      browser.kill();
      await browser.exited;
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The browser's DevTools WebSocket, from the line Chromium prints on stderr when it listens. */
async function devtoolsEndpoint(stderr: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let seen = "";
  const reader = stderr.getReader();
  const deadline = Bun.sleep(20_000).then(() => null);
  for (;;) {
    const chunk = await Promise.race([reader.read(), deadline]);
    if (chunk === null) throw new Error(`Chromium did not open its DevTools port in 20 s; it said:\n${seen}`);
    if (chunk.done) throw new Error(`Chromium exited before opening its DevTools port; it said:\n${seen}`);
    seen += decoder.decode(chunk.value);
    const match = /DevTools listening on (ws:\/\/\S+)/.exec(seen);
    if (match) {
      // Keep draining stderr so Chromium never blocks on a full pipe.
      void (async () => {
        while (!(await reader.read()).done);
      })();
      return match[1]!;
    }
  }
}
