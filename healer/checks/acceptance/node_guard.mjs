// healer's guard for one acceptance test file run by Node's test runner.
//
// The same module is loaded twice under one data: URL, so one instance serves both: with
// --import, before anything else (the entry point is an empty -e), and as --test-reporter.
// At load it
//   - makes a fresh key and prints it on file descriptor 3 (the sandbox's output), then
//     closes that descriptor; nothing of the project has run yet;
//   - locks what decides a test's outcome and carries it to the reporter: node:assert and
//     node:test, the stream, event-emitter, promise and async-generator prototypes, the
//     module loader's answer for those two modules, and the HMAC this file signs with.
//     Replacing one throws, and the attempt is reported as tampering;
//   - starts a test of its own, named by a secret, so that the reporter signs events only
//     from the stream that carried that test: the runner's own;
//   - imports the test file (its path is the one argument), and notes whether it loaded.
// Each reported test is one line, `<hmac> <json>`, in the report file, and the last line says
// the run ended and whether the test file loaded; healer checks every line with the key it
// read first, so a line written by anything else does not count, and a report without its
// end (the process stopped early) or of a file that did not load counts no test.

import assert from "node:assert";
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
const { freeze, isFrozen, hasOwn } = Object;
const { startsWith, slice } = String.prototype;
const stringify = JSON.stringify;
const { inspect } = util;
const StringOf = String;
const hmacOf = crypto.createHmac;
const hmacProto = getPrototypeOf(hmacOf("sha256", "probe"));
const update = hmacProto.update;
const digest = hmacProto.digest;
const ROOT = process.cwd() + "/";
const TEST_FILE = process.argv[1];
const KEY = crypto.randomBytes(32).toString("hex");
const OWN_TEST = "healer-guard-" + crypto.randomBytes(16).toString("hex");
const tampered = [];

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

// The native handle an HMAC keeps (found through its symbols) is frozen: its methods could
// otherwise be given other code that signs other text.
{
  const probe = hmacOf("sha256", "probe");
  for (const symbol of Object.getOwnPropertySymbols(probe)) {
    const handle = probe[symbol];
    if (handle && typeof handle === "object") {
      const proto = getPrototypeOf(handle);
      if (proto && !isFrozen(proto)) freeze(proto);
    }
  }
  lock(hmacProto, "crypto.Hmac.prototype");
}

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
test(OWN_TEST, () => {});

let loaded = false;
let loadError = null;
try {
  await import(pathToFileURL(path.resolve(TEST_FILE)).href);
  loaded = true;
} catch (error) {
  loadError = text(error && typeof error === "object" && "stack" in error ? error.stack : error,
    1000);
}

function sign(record) {
  const body = stringify(record);
  const mac = hmacOf("sha256", KEY);
  apply(update, mac, [body]);
  return `${apply(digest, mac, ["hex"])} ${body}\n`;
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
    if (data.name === OWN_TEST) {
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
