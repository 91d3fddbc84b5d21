"""Acceptance tests written for Node's test runner, judged by id in the real sandbox."""

from __future__ import annotations

import re
import subprocess

import pytest

from healer.checks import acceptance

pytestmark = pytest.mark.docker

TEST = ('const test = require("node:test");\nconst assert = require("node:assert");\n'
        'const { add } = require("./calc");\n\n'
        'test("adds", () => { assert.strictEqual(add(1, 2), 3); });\n'
        'test.describe("more", () => {\n'
        '  test.it("adds zero", () => { assert.strictEqual(add(0, 2), 2); });\n});\n')
BUGGY = "exports.add = (a, b) => a - b;\n"
# A test file that requires the project before node:assert (the loader attacks need it).
LATE = TEST.replace('const assert = require("node:assert");\n', "").replace(
    'require("./calc");\n', 'require("./calc");\nconst assert = require("assert");\n')


@pytest.fixture(scope="module")
def sandbox(docker_sandbox):
    return docker_sandbox


@pytest.fixture(scope="module")
def contract(sandbox, tmp_path_factory):
    user = tmp_path_factory.mktemp("user")
    (user / "calc.test.js").write_text(TEST)
    return acceptance.collect({"calc.test.js": user / "calc.test.js"}, sandbox, timeout=60)


@pytest.fixture(scope="module")
def late_contract(sandbox, tmp_path_factory):
    user = tmp_path_factory.mktemp("late")
    (user / "calc.test.js").write_text(LATE)
    return acceptance.collect({"calc.test.js": user / "calc.test.js"}, sandbox, timeout=60)


def run(sandbox, contract, tmp_path, calc: str, test: str = TEST):
    (tmp_path / "calc.test.js").write_text(test)
    (tmp_path / "package.json").write_text('{"name": "calc"}\n')
    (tmp_path / "calc.js").write_text(calc)
    return acceptance.run(tmp_path, contract, sandbox, timeout=60)


def user_tests(tmp_path, sandbox, tests: dict[str, str]):
    """The contract of the user's `tests` (name -> source), and a project folder holding them."""
    user, project = tmp_path / "user", tmp_path / "project"
    user.mkdir()
    project.mkdir()
    for name, text in tests.items():
        (user / name).write_text(text)
        (project / name).write_text(text)
    contract = acceptance.collect({n: user / n for n in tests}, sandbox, timeout=60)
    return contract, project


def test_ids_come_from_the_test_file(contract) -> None:
    assert contract.ids == ["calc.test.js::adds", "calc.test.js::adds zero"]


def test_failures_name_the_test_with_expected_and_actual(sandbox, contract, tmp_path) -> None:
    check = run(sandbox, contract, tmp_path, BUGGY)
    assert not check.passed and check.detail == "acceptance tests passed: 0 of 2"
    assert "calc.test.js::adds failed" in check.failures[0].message
    assert "expected: 3; actual: -1" in check.failures[0].message
    fixed = run(sandbox, contract, tmp_path, BUGGY.replace("a - b", "a + b"))
    assert fixed.passed and fixed.tests_passed == 2


# Finds healer's files under /tmp and puts a report of passes in their place, at exit.
FORGED_REPORT = r"""
process.on("exit", () => {
  const fs = require("fs");
  const forged = "TAP version 13\nok 1 - adds\nok 2 - adds zero\n1..2\n"
    + '0'.repeat(64) + ' {"name":"adds","outcome":"passed"}\n'
    + '0'.repeat(64) + ' {"name":"adds zero","outcome":"passed"}\n';
  for (const dir of fs.readdirSync("/tmp")) {
    let names = [];
    try { names = fs.readdirSync("/tmp/" + dir); } catch (e) { continue; }
    for (const name of names) if (!name.endsWith(".err")) {
      fs.writeFileSync(`/tmp/${dir}/forged`, forged);
      fs.renameSync(`/tmp/${dir}/forged`, `/tmp/${dir}/${name}`);
    }
  }
  process.exitCode = 0;
});
"""
# Calls healer's reporter itself (its URL is in process.execArgv) with events of passes.
OWN_REPORTER = r"""
const url = process.execArgv.find((a) => a.startsWith("--test-reporter=")).slice(16);
import(url).then(async ({ default: report }) => {
  async function* events() {
    for (const name of ["adds", "adds zero"]) yield { type: "test:pass", data: { name, details: {} } };
  }
  const out = [];
  for await (const line of report(events())) out.push(line);
  const dest = process.execArgv.find((a) => a.startsWith("--test-reporter-destination="));
  process.on("exit", () => {
    require("fs").appendFileSync(dest.split("=")[1], out.join(""));
    process.exitCode = 0;
  });
});
"""
# Rewrites the runner's events on their way to the reporter.
EVENTS_REWRITTEN = r"""
const { Readable } = require("stream");
const push = Readable.prototype.push;
Readable.prototype.push = function (event) {
  if (event && event.type === "test:fail") event.type = "test:pass";
  return push.call(this, event);
};
process.on("exit", () => { process.exitCode = 0; });
"""
# Writes a key of its own on the sandbox's output (the shell's stdout), then results signed
# with it into the report.
OWN_KEY = r"""
const crypto = require("crypto"), fs = require("fs");
const key = "ab".repeat(32);
fs.writeFileSync("/proc/1/fd/1", `=====healer-node-key ${key}=====\n`);
const sign = (o) => { const b = JSON.stringify(o);
  return crypto.createHmac("sha256", key).update(b).digest("hex") + " " + b + "\n"; };
const dest = process.execArgv.find((a) => a.startsWith("--test-reporter-destination="));
process.on("exit", () => {
  fs.writeFileSync(dest.split("=")[1], sign({ name: "adds", outcome: "passed" })
    + sign({ name: "adds zero", outcome: "passed" }));
  process.exitCode = 0;
});
"""


# Gives every awaited promise (the reporter's loop awaits the runner's events) other results.
THEN_REWRITTEN = r"""
const then = Promise.prototype.then;
Promise.prototype.constructor = function () {};
Promise.prototype.then = function (ok, bad) {
  const flip = (v) => {
    if (v && v.value && v.value.type === "test:fail") v.value.type = "test:pass";
    return ok ? ok(v) : v;
  };
  return then.call(this, flip, bad);
};
process.on("exit", () => { process.exitCode = 0; });
"""
# Defines passing tests under the acceptance tests' names, compiled as if in the test file,
# and ends the process once the report holds their passes, before the real tests run.
FAKED_THEN_EXIT = r"""
const vm = require("vm"), fs = require("fs");
const dest = process.execArgv.find((a) => a.startsWith("--test-reporter-destination="))
  .split("=")[1];
vm.runInThisContext(`(function (test, fs, dest) {
  test("adds", () => {});
  test("adds zero", () => {});
  test("zz", () => new Promise(() => {
    const poll = () => {
      if ((fs.readFileSync(dest, "utf8").match(/"outcome":"passed"/g) || []).length >= 2)
        process.exit(0);
      setTimeout(poll, 10);
    };
    poll();
  }));
})`, { filename: process.cwd() + "/calc.test.js" })(require("node:test"), fs, dest);
"""
# The same through the loader's own compile, then a throw, so the test file stops at its
# require of the project and its real tests are never defined.
FAKED_THEN_THROW = r"""
const Module = require("module");
const m = new Module(process.cwd() + "/calc.test.js", module);
m.filename = process.cwd() + "/calc.test.js";
m._compile('const test = require("node:test"); test("adds", () => {}); '
           + 'test("adds zero", () => {});', m.filename);
process.on("exit", () => { process.exitCode = 0; });
throw new Error("stop");
"""

# Reads the guard's key from its reporter's closure through the inspector, then writes a
# report of passes signed with it over the real one, at exit.
INSPECTED = r"""
const crypto = require("crypto"), fs = require("fs");
const arg = (name) => process.execArgv.find((a) => a.startsWith(name)).slice(name.length);
let key = null;
// (globalThis.reporter: the guard's reporter, in the context the session inspects)
function steal(session) {
  const post = (m, p) => { let out; session.post(m, p, (e, r) => { out = r; }); return out; };
  post("Runtime.enable");
  const { result } = post("Runtime.evaluate", { expression: "globalThis.reporter" });
  const props = post("Runtime.getProperties", { objectId: result.objectId,
    ownProperties: false, accessorPropertiesOnly: false, generatePreview: false });
  const scopes = props.internalProperties.find((p) => p.name === "[[Scopes]]");
  for (const scope of post("Runtime.getProperties", { objectId: scopes.value.objectId }).result) {
    for (const v of post("Runtime.getProperties", { objectId: scope.value.objectId }).result) {
      if (v.name === "KEY") key = v.value.value;
    }
  }
}
const reporter = import(arg("--test-reporter=")).then((m) => { globalThis.reporter = m.default; });
process.on("exit", () => {
  if (!key) return;
  const sign = (o) => { const b = JSON.stringify(o);
    return crypto.createHmac("sha256", key).update(b).digest("hex") + " " + b + "\n"; };
  fs.writeFileSync(arg("--test-reporter-destination="),
    sign({ name: "adds", suite: false, outcome: "passed", file: "calc.test.js", line: 5 })
    + sign({ name: "adds zero", suite: false, outcome: "passed", file: "calc.test.js", line: 7 })
    + sign({ end: true, loaded: true, error: null }));
  process.exitCode = 0;
});
"""
INSPECTOR_IN_PROCESS = INSPECTED + r"""
const inspector = require("inspector");
const session = new inspector.Session();
session.connect();
reporter.then(() => steal(session));
"""
INSPECTOR_FROM_A_WORKER = INSPECTED + r"""
const { Worker } = require("worker_threads");
reporter.then(() => new Worker(`
  const { parentPort } = require("worker_threads");
  const session = new (require("inspector").Session)();
  session.connectToMainThread();
  const post = (m, p) => new Promise((ok) => session.post(m, p, (e, r) => ok(r)));
  (async () => {
    await post("Runtime.enable");
    const { result } = await post("Runtime.evaluate", { expression: "globalThis.reporter" });
    const props = await post("Runtime.getProperties", { objectId: result.objectId,
      ownProperties: false, accessorPropertiesOnly: false, generatePreview: false });
    const scopes = props.internalProperties.find((p) => p.name === "[[Scopes]]");
    for (const scope of (await post("Runtime.getProperties",
                                    { objectId: scopes.value.objectId })).result) {
      for (const v of (await post("Runtime.getProperties",
                                  { objectId: scope.value.objectId })).result) {
        if (v.name === "KEY") parentPort.postMessage(v.value.value);
      }
    }
  })();
`, { eval: true }).on("message", (k) => { key = k; clearTimeout(hold); }));
const hold = setTimeout(() => {}, 5000);
"""

# The running test, reached through async_hooks, made to count its failure as a pass: through
# its class, through accessors of its own, or through a setter AsyncLocalStorage triggers.
RUNNING_TEST_PATCHED = r"""
const { executionAsyncResource } = require("async_hooks");
exports.add = (a, b) => {
  const t = executionAsyncResource();
  for (let p = Object.getPrototypeOf(t); p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    if (Object.getOwnPropertyDescriptor(p, "fail")) p.fail = function () { this.pass(); };
  }
  return a - b;
};
"""
RUNNING_TEST_GIVEN_ACCESSORS = r"""
const { executionAsyncResource } = require("async_hooks");
exports.add = (a, b) => {
  const t = executionAsyncResource();
  for (const k of ["passed", "error"]) Object.defineProperty(t, k, { get: () => (k === "passed" ? true : null), set() {}, configurable: true });
  return a - b;
};
"""
RUNNING_TEST_BY_A_SETTER = r"""
const { AsyncLocalStorage, AsyncResource } = require("async_hooks");
const als = new AsyncLocalStorage();
Object.defineProperty(AsyncResource.prototype, als.kResourceStore, { configurable: true,
  get() { return undefined; },
  set(v) {
    if (this && typeof this.pass === "function" && typeof this.fail === "function") {
      Object.getPrototypeOf(this).fail = function () { this.pass(); };
    }
  } });
exports.add = (a, b) => { als.enterWith({}); return a - b; };
"""
# The native handle of Node's HMAC wrapped as it is created, its key kept to sign a report.
HMAC_HANDLE_WRAPPED = r"""
const crypto = require("crypto"), fs = require("fs");
const probe = crypto.createHmac("sha256", "x");
const kHandle = Object.getOwnPropertySymbols(probe).find((s) => s.description === "kHandle");
let signer = null; // a native HMAC handle initialised with the guard's key, never finalised
const store = new WeakMap();
Object.defineProperty(Object.getPrototypeOf(Object.getPrototypeOf(probe)), kHandle, { configurable: true,
  get() { return store.get(this); },
  set(real) {
    const self = this;
    if (!(self instanceof crypto.Hmac) && !(real && real.constructor && real.constructor.name === "Hmac")) { store.set(self, real); return; }
    const fake = {
      init(alg, key) {
        if (!signer) { const h = new real.constructor(); h.init(alg, key); signer = { ctor: real.constructor, alg, key }; }
        return real.init(alg, key);
      },
      update: (...a) => real.update(...a),
      digest: (...a) => real.digest(...a),
    };
    store.set(self, fake);
  } });
const dest = process.execArgv.find((a) => a.startsWith("--test-reporter-destination=")).split("=")[1];
process.on("exit", () => {
  if (!signer) return;
  const sign = (o) => { const b = JSON.stringify(o);
    const h = new signer.ctor(); h.init(signer.alg, signer.key); h.update(b, "utf8");
    return h.digest("hex") + " " + b + "\n"; };
  fs.writeFileSync(dest,
    sign({ name: "adds", suite: false, outcome: "passed", file: "calc.test.js", line: 5 })
    + sign({ name: "adds zero", suite: false, outcome: "passed", file: "calc.test.js", line: 7 })
    + sign({ end: true, loaded: true, error: null }));
  process.exitCode = 0;
});
exports.add = (a, b) => a - b;
"""

# name -> (calc.js, the test file it runs under)
NODE_ATTACKS = {
    "exit 0 at require": ("process.exit(0);\n", TEST),
    "results printed": ('console.log("ok 1 - adds");\nconsole.log("ok 2 - adds zero");\n'
                        + BUGGY, TEST),
    "results printed at exit": (
        'process.on("exit", () => process.stdout.write("ok 1 - adds\\n"));\n' + BUGGY, TEST),
    "assert replaced": ('require("node:assert").strictEqual = () => {};\n' + BUGGY, TEST),
    "every assert function replaced": (
        'const a = require("assert");\n'
        'for (const k of Object.keys(a)) { try { a[k] = () => {}; } catch (e) {} }\n' + BUGGY,
        TEST),
    "node:test replaced": ('const t = require("node:test"); t.describe = () => {};\n' + BUGGY,
                           TEST),
    "the loader gives another assert": (
        'const fake = new Proxy({}, { get: () => () => {} });\n'
        'const M = require("module"); const load = M._load;\n'
        'M._load = function (r, ...a) { return r === "assert" ? fake : load.call(this, r, ...a); };\n'
        + BUGGY, LATE),
    "require.cache holds another assert": (
        'require.cache.assert = { loaded: true, exports: new Proxy({}, { get: () => () => {} }) };\n'
        + BUGGY, LATE),
    "the report file replaced": (FORGED_REPORT + BUGGY, TEST),
    "healer's reporter called by the project": (OWN_REPORTER + BUGGY, TEST),
    "events rewritten on their way": (EVENTS_REWRITTEN + BUGGY, TEST),
    "a key of its own": (OWN_KEY + BUGGY, TEST),
    "promises give other results": (THEN_REWRITTEN + BUGGY, TEST),
    "tests faked under the test file's name, then exit": (FAKED_THEN_EXIT + BUGGY, TEST),
    "tests faked through the loader, then a throw": (FAKED_THEN_THROW + BUGGY, TEST),
    "the key read through the inspector": (INSPECTOR_IN_PROCESS + BUGGY, TEST),
    "the running test patched through async_hooks": (RUNNING_TEST_PATCHED, TEST),
    "the running test given accessors": (RUNNING_TEST_GIVEN_ACCESSORS, TEST),
    "the running test patched by a setter": (RUNNING_TEST_BY_A_SETTER, TEST),
    "the HMAC's native handle wrapped": (HMAC_HANDLE_WRAPPED, TEST),
}


@pytest.mark.parametrize("name", NODE_ATTACKS)
def test_an_attack_on_the_node_run_stays_red(sandbox, contract, late_contract, tmp_path,
                                             name) -> None:
    calc, test = NODE_ATTACKS[name]
    check = run(sandbox, late_contract if test is LATE else contract, tmp_path, calc, test)
    assert not check.passed and check.tests_passed == 0, check.failures


def _host_node() -> int:
    """The major version of the host's node (0 when there is none)."""
    try:
        out = subprocess.run(["node", "--version"], capture_output=True, text=True,
                             timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return 0
    match = re.match(r"v(\d+)", out.stdout)
    return int(match.group(1)) if match else 0


@pytest.mark.skipif(_host_node() < 20, reason="from Node 20 a worker's inspector reaches "
                    "the main thread while it waits (on the host's node, run unsandboxed)")
def test_a_worker_cannot_read_the_key(tmp_path) -> None:
    from healer.sandbox.unsafe import UnsafeLocalSandbox

    sandbox = UnsafeLocalSandbox()
    try:
        contract, project = user_tests(tmp_path, sandbox, {"calc.test.js": TEST})
        check = run(sandbox, contract, project, INSPECTOR_FROM_A_WORKER + BUGGY)
        assert not check.passed and check.tests_passed == 0, check.failures
        assert "worker_threads.Worker was used" in check.failures[0].message
    finally:
        sandbox.close()


def test_a_test_defined_by_project_code_under_an_acceptance_name_voids_the_run(
        sandbox, contract, tmp_path) -> None:
    calc = 'const t = require("node:test");\nt.test("adds", () => {});\n' + BUGGY
    check = run(sandbox, contract, tmp_path, calc)
    assert not check.passed and check.tests_passed == 0
    assert "a test named 'adds' was defined in calc.js" in check.failures[0].message


def test_a_project_that_reads_proc_voids_the_run(sandbox, contract, tmp_path) -> None:
    # a process may read its own memory (/proc/self/mem), where the guard's key is
    calc = 'const maps = require("fs").readFileSync("/proc/self/maps", "utf8");\n'
    check = run(sandbox, contract, tmp_path, calc + BUGGY.replace("a - b", "a + b"))
    assert not check.passed and check.tests_passed == 0
    assert "calc.js reads process information (/proc)" in check.failures[0].message


def test_mocks_of_what_the_guard_locks_work_on_instances(sandbox, tmp_path) -> None:
    test = ('const test = require("node:test");\nconst assert = require("node:assert");\n'
            'const { EventEmitter } = require("events");\nconst { add, say } = require("./calc");\n'
            'test("prints", (t) => {\n'
            '  const write = t.mock.method(process.stdout, "write", () => true);\n'
            '  say(); assert.strictEqual(write.mock.calls.length, 1); });\n'
            'test("listens", (t) => { const e = new EventEmitter(); const on = t.mock.method(e, "on");\n'
            '  e.on("x", () => {}); assert.strictEqual(on.mock.calls.length, 1);\n'
            '  assert.strictEqual(add(1, 2), 3); });\n')
    contract, project = user_tests(tmp_path, sandbox, {"calc.test.js": test})
    (project / "calc.js").write_text(
        'exports.add = (a, b) => a + b;\nexports.say = () => console.log("hi");\n')
    check = acceptance.run(project, contract, sandbox, timeout=60)
    assert check.passed and check.tests_passed == 2, check.failures


def test_an_honest_project_that_uses_streams_events_and_mocks_stays_green(
        sandbox, tmp_path) -> None:
    test = ('const test = require("node:test");\nconst assert = require("node:assert");\n'
            'const { add, Counter, lines } = require("./calc");\n'
            'test("adds", (t) => {\n'
            '  const spy = t.mock.method(Math, "max");\n'
            '  assert.strictEqual(add(1, 2), 3);\n  assert.strictEqual(spy.mock.calls.length, 1);\n'
            '});\n'
            'test("counts", () => { const c = new Counter(); let n = 0; c.on("tick", () => n++);\n'
            '  c.tick(); c.tick(); assert.deepStrictEqual([n, c.count], [2, 2]); });\n'
            'test("reads lines", async () => {\n'
            '  assert.deepStrictEqual(await lines(["a\\nb", "\\nc"]), ["a", "b", "c"]); });\n')
    contract, project = user_tests(tmp_path, sandbox, {"calc.test.js": test})
    (project / "package.json").write_text('{"name": "calc"}\n')
    (project / "calc.js").write_text(
        'const { EventEmitter } = require("events");\nconst { Readable, Transform } = '
        'require("stream");\n'
        'exports.add = (a, b) => { Math.max(a, b); return a + b; };\n'
        'class Counter extends EventEmitter {\n  constructor() { super(); this.count = 0; }\n'
        '  tick() { this.count += 1; this.emit("tick"); }\n}\n'
        'Counter.prototype.toString = function () { return `Counter(${this.count})`; };\n'
        'exports.Counter = Counter;\n'
        'exports.lines = async (chunks) => {\n  let rest = ""; const out = [];\n'
        '  const split = new Transform({ objectMode: true, transform(chunk, _e, done) {\n'
        '    const parts = (rest + chunk).split("\\n"); rest = parts.pop();\n'
        '    parts.forEach((p) => this.push(p)); done(); },\n'
        '    flush(done) { if (rest) this.push(rest); done(); } });\n'
        '  split.destroy = split.destroy.bind(split);\n'
        '  for await (const line of Readable.from(chunks).pipe(split)) out.push(line);\n'
        '  return out;\n};\n')
    check = acceptance.run(project, contract, sandbox, timeout=60)
    assert check.passed and check.tests_passed == 3, check.failures


def test_a_process_left_by_an_earlier_file_cannot_rewrite_a_later_one(sandbox, tmp_path) -> None:
    # it waits for the next file's stderr file, made after that file's check, to rewrite it
    racer = r"""
const racer = `
const fs = require("fs"), path = require("path");
const target = path.join(${JSON.stringify(process.cwd())}, "b.test.js");
const fake = 'require("node:test")("adds more", () => {});\\n';
const until = Date.now() + 30000;
(function poll() {
  for (const d of fs.readdirSync("/tmp")) {
    if (fs.existsSync("/tmp/" + d + "/1.err")) { fs.writeFileSync(target, fake); return; }
  }
  if (Date.now() < until) setTimeout(poll, 1);
})();
`;
if (!global.raced) {
  global.raced = true;
  require("child_process").spawn(process.execPath, ["-e", racer],
    { detached: true, stdio: "ignore" }).unref();
}
exports.mul = (a, b) => a * b;
"""
    files = {"a.test.js": TEST.replace("const { add } = require(\"./calc\");",
                                       "const { mul } = require(\"./calc\");").split("\ntest(")[0]
             + '\ntest("multiplies", () => { assert.strictEqual(mul(2, 3), 6); });\n',
             "b.test.js": TEST.split("\ntest(")[0]
             + '\ntest("adds more", () => { assert.strictEqual(add(2, 2), 4); });\n'}
    contract, project = user_tests(tmp_path, sandbox, files)
    (project / "calc.js").write_text(racer + BUGGY)
    check = acceptance.run(project, contract, sandbox, timeout=60)
    assert not check.passed and "b.test.js::adds more" not in check.passed_tests, check.failures


def test_names_and_values_with_line_separators_and_overridden_object_methods_stay_honest(
        sandbox, tmp_path) -> None:
    test = ('const test = require("node:test");\nconst assert = require("node:assert");\n'
            'const { add, Point } = require("./calc");\n'
            'test("adds\u2028twice", () => { assert.strictEqual(add(1, 2), 3); });\n'
            'test("prints", () => { assert.strictEqual(String(new Point(1, 2)), "(1, 2)"); });\n'
            'test("joins", () => { assert.strictEqual(add("a\\u2028", "b"), "a\\u2028b"); });\n')
    contract, project = user_tests(tmp_path, sandbox, {"calc.test.js": test})
    point = ('function Point(x, y) { this.x = x; this.y = y; }\n'
             'Point.prototype.toString = function () { return `(${this.x}, ${this.y})`; };\n'
             'exports.Point = Point;\n')
    (project / "calc.js").write_text(point + "exports.add = (a, b) => a + b;\n")
    green = acceptance.run(project, contract, sandbox, timeout=60)
    assert green.passed and green.tests_passed == 3, green.failures
    (project / "calc.js").write_text(point + "exports.add = (a, b) => typeof a === 'string' "
                                     "? b + a : a + b;\n")
    red = acceptance.run(project, contract, sandbox, timeout=60)
    assert not red.passed and red.tests_passed == 2
    assert "calc.test.js::joins failed" in red.failures[0].message


def test_a_test_file_rewritten_by_an_earlier_one_does_not_count(sandbox, tmp_path) -> None:
    later = ('const test = require("node:test");\nconst assert = require("node:assert");\n'
             'const { add } = require("./calc");\n'
             'test("adds more", () => { assert.strictEqual(add(2, 2), 4); });\n')
    contract, project = user_tests(tmp_path, sandbox, {"a.test.js": TEST, "b.test.js": later})
    (project / "package.json").write_text('{"name": "calc"}\n')
    (project / "calc.js").write_text(
        'require("fs").writeFileSync("b.test.js", \'require("node:test")("adds more", () => {});\');\n'
        + BUGGY)
    check = acceptance.run(project, contract, sandbox, timeout=60)
    assert not check.passed and check.tests_passed == 0
    assert any("b.test.js was changed before it ran" in f.message for f in check.failures)
