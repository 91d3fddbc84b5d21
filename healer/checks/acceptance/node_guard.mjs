// healer's guard for one acceptance test file run by Node's test runner.
//
// The same module is loaded twice under one data: URL, so one instance serves both: with
// --import, before the test file and the project's code, and as --test-reporter. At load it
//   - makes a fresh key and prints it on file descriptor 3 (the sandbox's output), then
//     closes that descriptor; nothing of the project has run yet;
//   - locks what decides a test's outcome and carries it to the reporter: node:assert and
//     node:test, the stream and event-emitter prototypes, the module loader's hooks for
//     those two modules, and the HMAC this file signs with. Replacing one throws, and the
//     attempt is reported as tampering;
//   - starts a test of its own, named by a secret, so that the reporter signs events only
//     from the stream that carried that test: the runner's own.
// Each reported test is one line, `<hmac> <json>`, in the report file; healer checks every
// line with the key it read first, so a line written by anything else does not count.

import assert from "node:assert";
import crypto from "node:crypto";
import events from "node:events";
import fs from "node:fs";
import Module from "node:module";
import stream from "node:stream";
import test from "node:test";
import util from "node:util";

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
const KEY = crypto.randomBytes(32).toString("hex");
const OWN_TEST = "healer-guard-" + crypto.randomBytes(16).toString("hex");
const tampered = [];

function refuse(what) {
  defineProperty(tampered, tampered.length, { value: what, enumerable: true });
  throw new TypeError(`${what}: the acceptance run does not allow it`);
}

// Data properties become accessors: a new value set on the object itself is refused, one
// set on an object that inherits from it becomes that object's own (as an assignment would).
function lock(object, label) {
  if (object === null || (typeof object !== "object" && typeof object !== "function")) return;
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
    defineProperty(object, name, {
      configurable: false, enumerable: d.enumerable,
      get() { return value; },
      set(v) {
        if (this === object) refuse(`${shown} was replaced`);
        defineProperty(this, name, { value: v, writable: true, enumerable: true, configurable: true });
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
// Every event the reporter's loop takes is awaited. (The loop itself starts with the guard's
// own test, before the project's code, so the iterator's methods it holds are the originals.)
lock(Promise, "Promise");
lock(Promise.prototype, "Promise.prototype");

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

fs.writeSync(3, `=====healer-node-key ${KEY}=====\n`);
fs.closeSync(3);
test(OWN_TEST, () => {});

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
  yield sign({ __proto__: null, end: true });
}
