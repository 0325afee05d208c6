/**
 * A real HTTP server on 127.0.0.1 in a CHILD process, for the `fledge.http` tests. It
 * must live in another process: a wasm guest's http call blocks fledge's thread
 * (Atomics.wait), so a server on the test's own event loop could never answer.
 *
 *   const srv = await startHttpServer();
 *   ... srv.url("/hello") ...
 *   srv.stop();
 *
 * Routes: /hello (text), /echo (the request as JSON: method, url, headers, body),
 * /redirect?to=URL (302), /see-other?to=URL (303), /big?n=BYTES, /slow (headers,
 * then silence), /silent (no answer at all), /binary, /chunked, /set-header.
 * Run directly (`bun tests/helpers/http-server.ts`) it prints its port and serves.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:http";

export interface TestHttpServer {
  port: number;
  url(path: string): string;
  stop(): void;
}

export async function startHttpServer(): Promise<TestHttpServer> {
  const child = spawn(process.execPath, [import.meta.path], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /PORT (\d+)\n/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", (code) => reject(new Error(`test http server exited (${code})`)));
  });
  return {
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    stop: () => void child.kill("SIGKILL"),
  };
}

function serve(): void {
  const server = createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      switch (u.pathname) {
        case "/hello":
          res.writeHead(200, { "content-type": "text/plain", "x-echo": "yes" }).end("hello from loopback");
          return;
        case "/echo":
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, raw: req.rawHeaders, body }));
          return;
        case "/redirect":
          res.writeHead(302, { location: u.searchParams.get("to") ?? "/hello" }).end();
          return;
        case "/see-other":
          res.writeHead(303, { location: u.searchParams.get("to") ?? "/echo" }).end();
          return;
        case "/big": {
          const n = Number(u.searchParams.get("n") ?? "0");
          res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(n) });
          const block = Buffer.alloc(64 * 1024, 0x61);
          let sent = 0;
          const pump = (): void => {
            while (sent < n) {
              const k = Math.min(block.length, n - sent);
              sent += k;
              if (!res.write(block.subarray(0, k))) {
                res.once("drain", pump);
                return;
              }
            }
            res.end();
          };
          pump();
          return;
        }
        case "/slow":
          res.writeHead(200, { "content-type": "text/plain", "content-length": "100" });
          res.write("only part");
          return; // never finished
        case "/silent":
          return; // never answered
        case "/binary":
          res.writeHead(200, { "content-type": "application/octet-stream" }).end(Buffer.from([0xff, 0xfe, 0x00, 0x01]));
          return;
        case "/chunked":
          res.writeHead(200, { "content-type": "text/plain" });
          res.write("chunk one, ");
          res.end("chunk two");
          return;
        default:
          res.writeHead(404).end("not found");
      }
    });
  });
  server.listen(0, "127.0.0.1", () => {
    const addr = server.address();
    process.stdout.write(`PORT ${typeof addr === "object" && addr ? addr.port : 0}\n`);
  });
}

if (import.meta.main) serve();
