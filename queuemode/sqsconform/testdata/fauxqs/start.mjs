// start.mjs starts fauxqs (an independent SQS emulator, pinned in package.json)
// for chatbench's SQS conformance suite, bound to 127.0.0.1 only.
//
// Usage: node start.mjs [port]        (port 0 or omitted = any free port)
//
// It prints exactly one line on stdout once the server listens:
//   FAUXQS_URL=http://127.0.0.1:<port>
// and exits on SIGTERM/SIGINT, or when its stdin closes while --exit-on-stdin-eof
// is given (so a parent that dies without cleaning up does not leave it behind).
//
// It deliberately uses buildApp() rather than fauxqs's CLI/startFauxqs(),
// which always bind 0.0.0.0.
import { buildApp } from "fauxqs";

const args = process.argv.slice(2);
const exitOnStdinEOF = args.includes("--exit-on-stdin-eof");
const positional = args.filter((a) => !a.startsWith("--"));
const port = positional.length > 0 ? Number.parseInt(positional[0], 10) : 0;
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`start.mjs: bad port ${JSON.stringify(positional[0])}`);
  process.exit(2);
}

const app = buildApp({ logger: false });
let closing = false;
async function shutdown(code) {
  if (closing) return;
  closing = true;
  try {
    await app.close();
  } finally {
    process.exit(code);
  }
}
process.on("SIGTERM", () => shutdown(0));
process.on("SIGINT", () => shutdown(0));

try {
  await app.listen({ host: "127.0.0.1", port });
} catch (err) {
  console.error(`start.mjs: listen failed: ${err?.stack ?? err}`);
  process.exit(1);
}
const addr = app.server.address();
process.stdout.write(`FAUXQS_URL=http://127.0.0.1:${addr.port}\n`);

if (exitOnStdinEOF) {
  process.stdin.on("end", () => shutdown(0));
  process.stdin.on("error", () => shutdown(0));
  process.stdin.resume();
}
