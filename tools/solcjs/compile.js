// Compile one standard-json input with one installed solc-js version, for vulnsight
// eval's solc shim (src/vulnsight/bench/adapters/solcjs.py). Reads
// {"version": "0.8.19", "inputs": [{...standard-json input...}, ...]} on stdin and writes
// a JSON array of solc's standard-json outputs, one per input, on stdout (a batch loads
// the compiler, about a second, once). No import callback: imports are never read from disk,
// and nothing is downloaded (only compilers installed by `npm ci` here are used).
"use strict";

const path = require("path");

function readStdin() {
  const chunks = [];
  const fd = 0;
  const buf = Buffer.alloc(1 << 16);
  for (;;) {
    let n = 0;
    try {
      n = require("fs").readSync(fd, buf, 0, buf.length, null);
    } catch (err) {
      if (err.code === "EAGAIN") continue;
      if (err.code === "EOF") break;
      throw err;
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString("utf8");
}

function main() {
  const request = JSON.parse(readStdin());
  const version = String(request.version);
  if (!/^\d+\.\d+\.\d+$/.test(version)) {
    throw new Error("bad version: " + version);
  }
  const solc = require(path.join(__dirname, "node_modules", "solc-" + version));
  // solc-js 0.4.x: compile() is the legacy API; its standard-json entry has another name.
  const compile =
    typeof solc.compileStandardWrapper === "function" ? solc.compileStandardWrapper : solc.compile;
  const outputs = request.inputs.map((input) => {
    try {
      return JSON.parse(compile(JSON.stringify(input)));
    } catch (err) {
      const message = "solc-js failed: " + String(err && err.message ? err.message : err);
      return { errors: [{ severity: "error", type: "InternalError", message, formattedMessage: message }] };
    }
  });
  process.stdout.write(JSON.stringify(outputs));
}

main();
