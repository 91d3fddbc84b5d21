// healer's guard for one acceptance test file run by Node's test runner.
//
// The same module is loaded twice under one data: URL, so one instance serves both: with
// --import, before anything else (the entry point is an empty -e), and as --test-reporter.
// At load it
//   - makes a fresh key and prints it on file descriptor 3 (the sandbox's output), then
//     closes that descriptor; nothing of the project has run yet;
//   - locks what decides a test's outcome and carries it to the reporter: node:assert and
//     node:test, the stream, event-emitter, promise and async-generator prototypes, the
//     module loader's answer for those two modules; refuses the inspector, worker threads and
//     the bindings that reach them; and keeps the runner's test objects out of async_hooks'
//     hands. Replacing a locked one throws, and the attempt is reported as tampering;
//   - runs tests of its own, named by a secret, so that the reporter signs events only from
//     the stream that carried them (the runner's own), and so that the prototypes of the
//     runner's tests, and Object.prototype, can be locked and closed to new properties;
//   - then checks the test file (its path and sha256 are the arguments) and imports it.
// Each reported test is one line, `<hmac> <json>`, in the report file, signed by an HMAC of
// this file's own; the last line says the run ended and whether the test file loaded. healer
// checks every line with the key it read first, so a line written by anything else does not
// count, and a report without its end (the process stopped early) or of a file that did not
// load counts no test.

import assert from "node:assert";
import asyncHooks from "node:async_hooks";
import crypto from "node:crypto";
import events from "node:events";
import fs from "node:fs";
import inspector from "node:inspector";
import Module from "node:module";
import stream from "node:stream";
import path from "node:path";
import test from "node:test";
import { pathToFileURL } from "node:url";
import util from "node:util";
import workerThreads from "node:worker_threads";

const { apply, defineProperty, getOwnPropertyDescriptor, ownKeys, getPrototypeOf } = Reflect;
const { hasOwn, preventExtensions } = Object;
const { startsWith, slice } = String.prototype;
const stringify = JSON.stringify;
const { inspect } = util;
const StringOf = String;
const { charCodeAt } = String.prototype;
const U8 = Uint8Array;
const U32 = Uint32Array;
const ROOT = process.cwd() + "/";
const TEST_FILE = process.argv[1];
const TEST_DIGEST = process.argv[2];
const KEY = crypto.randomBytes(32).toString("hex");
const KEY_BYTES = utf8(KEY);
const OWN_TEST = "healer-guard-" + crypto.randomBytes(16).toString("hex");
const tampered = [];

// HMAC-SHA256 in this file, on typed arrays and captured functions only: Node's own HMAC
// goes through prototypes the project can reach (a setter on LazyTransform.prototype read the
// key as it was handed to the native code).
const ROUND = new U32([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
const START = new U32([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
  0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
const HEX = "0123456789abcdef";

function utf8(text) {
  const out = new U8(text.length * 3);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    let c = apply(charCodeAt, text, [i]);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      const d = apply(charCodeAt, text, [i + 1]);
      if (d >= 0xdc00 && d < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) out[n++] = c;
    else if (c < 0x800) { out[n++] = 0xc0 | (c >> 6); out[n++] = 0x80 | (c & 63); }
    else if (c < 0x10000) {
      out[n++] = 0xe0 | (c >> 12); out[n++] = 0x80 | ((c >> 6) & 63); out[n++] = 0x80 | (c & 63);
    } else {
      out[n++] = 0xf0 | (c >> 18); out[n++] = 0x80 | ((c >> 12) & 63);
      out[n++] = 0x80 | ((c >> 6) & 63); out[n++] = 0x80 | (c & 63);
    }
  }
  return copy(out, 0, n);
}

function copy(bytes, from, to) {
  const out = new U8(to - from);
  for (let i = from; i < to; i++) out[i - from] = bytes[i];
  return out;
}

function joined(a, b) {
  const out = new U8(a.length + b.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i];
  for (let i = 0; i < b.length; i++) out[a.length + i] = b[i];
  return out;
}

function sha256(bytes) {
  const length = bytes.length;
  const padded = new U8(((length + 72) >> 6) << 6);
  for (let i = 0; i < length; i++) padded[i] = bytes[i];
  padded[length] = 0x80;
  const bits = length * 8;
  for (let i = 0; i < 8; i++) padded[padded.length - 1 - i] = (bits / 2 ** (8 * i)) & 255;
  const h = new U32(8);
  for (let i = 0; i < 8; i++) h[i] = START[i];
  const w = new U32(64);
  for (let block = 0; block < padded.length; block += 64) {
    for (let i = 0; i < 16; i++) {
      const j = block + 4 * i;
      w[i] = (padded[j] << 24) | (padded[j + 1] << 16) | (padded[j + 2] << 8) | padded[j + 3];
    }
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15], b = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (let i = 0; i < 64; i++) {
      const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (k + s1 + ((e & f) ^ (~e & g)) + ROUND[i] + w[i]) | 0;
      const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      k = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
  }
  const out = new U8(32);
  for (let i = 0; i < 32; i++) out[i] = (h[i >> 2] >>> (24 - 8 * (i & 3))) & 255;
  return out;
}

function hmac(key, message) {
  const block = new U8(64);
  const short = key.length > 64 ? sha256(key) : key;
  for (let i = 0; i < short.length; i++) block[i] = short[i];
  const inner = new U8(64), outer = new U8(64);
  for (let i = 0; i < 64; i++) { inner[i] = block[i] ^ 0x36; outer[i] = block[i] ^ 0x5c; }
  return sha256(joined(outer, sha256(joined(inner, message))));
}

function hex(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i] >> 4] + HEX[bytes[i] & 15];
  return out;
}

function refuse(what) {
  defineProperty(tampered, tampered.length, { __proto__: null, value: what, enumerable: true });
  throw new TypeError(`${what}: the acceptance run does not allow it`);
}

// Data properties become accessors: a new value set on the object itself is refused, one
// set on an object that inherits from it becomes that object's own (as an assignment would).
const locks = new WeakMap(); // locked object -> names locked on it
const labels = new WeakMap(); // locked object -> its name in messages
const { get: weakGet, set: weakSet } = WeakMap.prototype;
const { has: setHas, add: setAdd } = Set.prototype;

function lock(object, label) {
  if (object === null || (typeof object !== "object" && typeof object !== "function")) return;
  const names = apply(weakGet, locks, [object]) || new Set();
  apply(weakSet, locks, [object, names]);
  apply(weakSet, labels, [object, label]);
  for (const name of ownKeys(object)) {
    const d = getOwnPropertyDescriptor(object, name);
    if (!d.configurable) continue;
    const shown = `${label}.${StringOf(typeof name === "symbol" ? name.description : name)}`;
    if (!("value" in d)) {
      defineProperty(object, name, {
        configurable: false, enumerable: d.enumerable, get: d.get,
        set(v) { if (this === object) refuse(`${shown} was replaced`); else if (d.set) apply(d.set, this, [v]); },
      });
      continue;
    }
    const value = d.value;
    apply(setAdd, names, [name]);
    defineProperty(object, name, {
      configurable: false, enumerable: d.enumerable,
      get() { return value; },
      set(v) {
        if (this === object) refuse(`${shown} was replaced`);
        defineProperty(this, name,
          { __proto__: null, value: v, writable: true, enumerable: true, configurable: true });
      },
    });
  }
}

function lockTree(root, label) {
  lock(root, label);
  for (const name of ownKeys(root)) {
    const value = getOwnPropertyDescriptor(root, name).get ? undefined : root[name];
    if (typeof value === "function" && value !== root) lock(value, `${label}.${StringOf(name)}`);
  }
}

lockTree(assert, "assert");
lockTree(assert.strict, "assert.strict");
lock(assert.AssertionError.prototype, "assert.AssertionError.prototype");
lockTree(test, "test");
for (const [cls, label] of [[events, "EventEmitter"], [stream.Stream, "Stream"],
  [stream.Readable, "Readable"], [stream.Writable, "Writable"], [stream.Duplex, "Duplex"],
  [stream.Transform, "Transform"], [stream.PassThrough, "PassThrough"]]) {
  lock(cls.prototype, `${label}.prototype`);
}
// Every event the reporter's loop takes is awaited, through a stream's async generator.
const asyncGeneratorProto = getPrototypeOf(async function* () {}.prototype);
lock(Promise, "Promise");
lock(Promise.prototype, "Promise.prototype");
lock(asyncGeneratorProto, "AsyncGenerator.prototype");
lock(getPrototypeOf(asyncGeneratorProto), "AsyncIterator.prototype");

// require("assert") and require("node:test") always give the modules locked above, whatever
// the loader's hooks or its cache were given; other modules go through them as before.
const guarded = { __proto__: null, assert, "assert/strict": assert.strict, test };
function own(request) {
  if (typeof request !== "string") return undefined;
  const name = apply(startsWith, request, ["node:"]) ? apply(slice, request, [5]) : request;
  return hasOwn(guarded, name) ? guarded[name] : undefined;
}
for (const [holder, name, label] of [[Module, "_load", "Module._load"],
  [Module.prototype, "require", "Module.prototype.require"]]) {
  let inner = holder[name];
  const outer = function (request, ...rest) {
    const found = own(request);
    return found !== undefined ? found : apply(inner, this, [request, ...rest]);
  };
  defineProperty(holder, name, {
    configurable: false, enumerable: true, get() { return outer; },
    set(v) { if (typeof v !== "function") refuse(`${label} was replaced`); inner = v; },
  });
}
for (const name of ["assert", "assert/strict"]) {
  defineProperty(Module._cache, name, {
    configurable: false, enumerable: false, get() { return undefined; },
    set() { refuse(`require.cache["${name}"] was replaced`); },
  });
}

// The inspector reads any function's closure, the guard's key too: it is refused, a signal
// cannot start it (a listener of SIGUSR1 takes the signal from the debugger for good), and
// neither can a worker thread, whose own inspector could attach to this one.
function refusing(what) {
  return function () { refuse(what); };
}
for (const [holder, name, label] of [[inspector, "open", "inspector.open"],
  [inspector, "url", "inspector.url"],
  [inspector.Session.prototype, "connect", "inspector.Session.prototype.connect"],
  [inspector.Session.prototype, "connectToMainThread",
    "inspector.Session.prototype.connectToMainThread"],
  [workerThreads, "Worker", "worker_threads.Worker"]]) {
  defineProperty(holder, name, { __proto__: null, configurable: false, enumerable: true,
    writable: false, value: refusing(`${label} was used (the acceptance run does not allow ` +
      "inspecting or worker threads)") });
}
process.on("SIGUSR1", () => {});
const binding = process.binding;
defineProperty(process, "binding", { __proto__: null, configurable: false, writable: false,
  enumerable: true, value: function (name) {
    if (name === "async_wrap" || name === "inspector") refuse(`process.binding("${name}") was used`);
    return apply(binding, process, [name]);
  } });

// The runner's tests are async resources: whoever holds one can make its failure a pass. The
// async-hooks API never hands them out (a stand-in of its own takes their place), and the
// prototypes they inherit from are locked and take no new properties (a setter added there
// would be handed one).
const runnerProtos = new Set();
const standIns = new WeakMap();
const { executionAsyncResource, createHook } = asyncHooks;
function isRunner(object) {
  for (let o = object; o !== null && (typeof o === "object" || typeof o === "function");
    o = getPrototypeOf(o)) {
    if (apply(setHas, runnerProtos, [o])) return true;
  }
  return false;
}
function shown(resource) {
  if (!isRunner(resource)) return resource;
  let standIn = apply(weakGet, standIns, [resource]);
  if (standIn === undefined) {
    standIn = { __proto__: null };
    apply(weakSet, standIns, [resource, standIn]);
  }
  return standIn;
}
const hookNames = ["init", "before", "after", "destroy", "promiseResolve"];
defineProperty(asyncHooks, "executionAsyncResource", { __proto__: null, configurable: false,
  writable: false, enumerable: true, value: function () { return shown(executionAsyncResource()); } });
defineProperty(asyncHooks, "createHook", { __proto__: null, configurable: false, writable: false,
  enumerable: true, value: function (callbacks) {
    const given = { __proto__: null };
    for (const name of hookNames) {
      const callback = callbacks != null ? callbacks[name] : undefined;
      if (callback === undefined) continue;
      given[name] = name !== "init" || typeof callback !== "function" ? callback
        : function (id, type, trigger, resource) {
          return apply(callback, callbacks, [id, type, trigger, shown(resource)]);
        };
    }
    return apply(createHook, asyncHooks, [given]);
  } });
Module.syncBuiltinESMExports();

// A mock of a locked method on an object that inherits it (t.mock.method(process.stdout,
// "write")) first gives that object the method as its own, as a plain assignment would; a
// mock of the locked object's own method is refused like a replacement.
{
  const trackerProto = getPrototypeOf(test.mock);
  const method = trackerProto.method;
  const holderOf = (object, name) => {
    for (let o = object; o !== null; o = getPrototypeOf(o)) {
      if (getOwnPropertyDescriptor(o, name)) return o;
    }
    return null;
  };
  defineProperty(trackerProto, "method", {
    __proto__: null, configurable: false, enumerable: false, writable: false,
    value: function (object, name, ...rest) {
      const holder = object !== null && typeof object === "object" || typeof object === "function"
        ? holderOf(object, name) : null;
      const names = holder !== null ? apply(weakGet, locks, [holder]) : undefined;
      if (names && apply(setHas, names, [name])) {
        if (holder === object) {
          refuse(`${apply(weakGet, labels, [holder])}.${StringOf(name)} was mocked (the run ` +
            "locks it; mock it on an instance instead)");
        }
        defineProperty(object, name, { __proto__: null, value: holder[name], writable: true,
          enumerable: false, configurable: true });
      }
      return apply(method, this, [object, name, ...rest]);
    },
  });
}

fs.writeSync(3, `=====healer-node-key ${KEY}=====\n`);
fs.closeSync(3);

// The guard's own tests, a test and a suite with a hook and a test, named by the secret: the
// reporter starts signing at the first of them, and each shows a class of the runner's.
function seen() {
  for (let o = getPrototypeOf(executionAsyncResource()); o !== null && o !== Object.prototype;
    o = getPrototypeOf(o)) {
    apply(setAdd, runnerProtos, [o]);
  }
}
// The test file is imported once these have run (the guard is the reporter too, so nothing
// here may wait for a test while the module loads).
let loaded = false;
let loadError = null;
const ownTests = test(OWN_TEST, (t) => {
  seen();
  apply(setAdd, runnerProtos, [getPrototypeOf(t)]);
}).then(() => new Promise((done) => {
  test.describe(`${OWN_TEST} suite`, () => {
    seen();
    test.before(seen);
    test.it(`${OWN_TEST} it`, () => { seen(); done(); });
  });
}));
ownTests.then(() => {
  for (const proto of runnerProtos) {
    lock(proto, "the runner's test");
    preventExtensions(proto);
  }
  lock(Object.prototype, "Object.prototype");
  preventExtensions(Object.prototype);
  // the file is checked against the user's digest here too, just before it is imported
  if (hex(sha256(fs.readFileSync(TEST_FILE))) !== TEST_DIGEST) {
    refuse(`acceptance test ${TEST_FILE} was changed before it ran`);
  }
  return import(pathToFileURL(path.resolve(TEST_FILE)).href);
}).then(() => { loaded = true; }, (error) => {
  loadError = text(error && typeof error === "object" && "stack" in error ? error.stack : error,
    1000);
});

function sign(record) {
  const body = stringify(record);
  return `${hex(hmac(KEY_BYTES, utf8(body)))} ${body}\n`;
}

function text(value, limit) {
  try {
    const shown = typeof value === "string" ? value
      : inspect(value, { customInspect: false, getters: false, showProxy: true, depth: 2,
        breakLength: Infinity, maxArrayLength: 20, maxStringLength: limit });
    return shown.length > limit ? shown.slice(0, limit) : shown;
  } catch {
    return "(a value that could not be shown)";
  }
}

// The file that defined a test, relative to the project (a test defined by project code
// under an acceptance test's name does not count as that test).
function where(file) {
  if (typeof file !== "string") return null;
  const path = apply(startsWith, file, ["file://"]) ? apply(slice, file, [7]) : file;
  return apply(startsWith, path, [ROOT]) ? apply(slice, path, [ROOT.length]) : path;
}

function record(type, data) {
  const details = data.details || {};
  const outcome = type === "test:pass" && !data.skip && !data.todo ? "passed"
    : data.skip || data.todo ? "skipped" : "failed";
  const entry = { __proto__: null, name: StringOf(data.name), suite: details.type === "suite", outcome,
    file: where(data.file), line: typeof data.line === "number" ? data.line : null };
  if (outcome !== "failed" || entry.suite) return entry;
  let cause;
  try {
    const error = details.error;
    cause = error && error.code === "ERR_TEST_FAILURE" && error.cause ? error.cause : error;
    entry.error = text(cause && typeof cause === "object" && "message" in cause
      ? cause.message : cause, 600);
    if (cause && cause.code === "ERR_ASSERTION") {
      entry.expected = text(cause.expected, 200);
      entry.actual = text(cause.actual, 200);
    }
    const frames = text(cause && cause.stack, 2000).split("\n");
    entry.stack = frames.filter((f) => f.includes("/work/") && !f.includes("node:"))
      .slice(0, 4).join("\n");
  } catch {
    entry.error = entry.error || "(an error that could not be read)";
  }
  return entry;
}

export default async function* reporter(source) {
  let genuine = false;
  let told = 0;
  for await (const event of source) {
    const data = event && event.data;
    if (!data) continue;
    if (typeof data.name === "string" && apply(startsWith, data.name, [OWN_TEST])) {
      genuine = true;
      continue;
    }
    if (!genuine) continue;
    while (told < tampered.length) yield sign({ __proto__: null, tampered: tampered[told++] });
    if (event.type === "test:pass" || event.type === "test:fail") yield sign(record(event.type, data));
  }
  if (!genuine) return;
  while (told < tampered.length) yield sign({ __proto__: null, tampered: tampered[told++] });
  yield sign({ __proto__: null, end: true, loaded, error: loadError });
}
