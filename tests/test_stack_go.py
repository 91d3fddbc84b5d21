"""The Go stack: detected, imaged and checked through the stack registry alone; `go build`,
`go vet` and `go test -json` in the real sandbox, each failure at its file and line; and a
build whose bug the loop repairs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from healer.checks.runner import sandbox_checks
from healer.stacks import STACKS, go, install_script, stack_for
from tests.scripted_model import ProjectModel

GO_MOD = "module example.com/calc\n\ngo 1.19\n"
CALC = "package calc\n\n// Add returns the sum of a and b.\nfunc Add(a, b int) int {\n\treturn a - b\n}\n"
CALC_TEST = ('package calc\n\nimport "testing"\n\nfunc TestAdd(t *testing.T) {\n'
             '\tif got := Add(2, 3); got != 5 {\n\t\tt.Errorf("Add(2, 3) = %d, want 5", got)\n'
             '\t}\n}\n')


def go_project(folder: Path, calc: str = CALC) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "go.mod").write_text(GO_MOD)
    (folder / "calc.go").write_text(calc)
    (folder / "calc_test.go").write_text(CALC_TEST)
    return folder


def by_name(results) -> dict:
    return {r.name: r for r in results}


def test_a_go_module_is_the_go_stack_and_its_checks_are_named(tmp_path):
    stack = stack_for(go_project(tmp_path))
    assert stack is STACKS.get("go")
    assert stack.check_names == ("go-build", "go-vet", "go-test")
    assert stack.recipe().name == "Dockerfile.go" and "golang-go" in stack.recipe().read_text()
    assert install_script(tmp_path) is None  # no requirement: nothing to download


def test_go_requirements_are_downloaded_from_the_proxy_and_local_replaces_refused(tmp_path):
    project = go_project(tmp_path)
    (project / "go.mod").write_text(GO_MOD + "\nrequire golang.org/x/text v0.14.0\n")
    script = install_script(project)
    assert "go mod download" in script and "GOPROXY=https://proxy.golang.org " in script
    assert STACKS.get("go").dependency_problems(project) == []
    with pytest.MonkeyPatch.context() as env:  # a company's mirror, never a direct fetch
        env.setenv("GOPROXY", "https://goproxy.corp/mod,direct|file:///srv/mod")
        assert "GOPROXY=https://goproxy.corp/mod " in install_script(project)
    (project / "go.mod").write_text(GO_MOD + "\nreplace example.com/x => ../x\n")
    (problem,) = STACKS.get("go").dependency_problems(project)
    assert problem == "go.mod line 5: `replace example.com/x => ../x`"


def test_go_tool_output_and_test_events_become_located_failures():
    compiler = "# example.com/calc\n./calc.go:5:9: undefined: b2\nsub/x.go:3:1: syntax error\n"
    failures = go.located(compiler, "go-build")
    assert [(f.file, f.line, f.message) for f in failures] == [
        ("calc.go", 5, "undefined: b2"), ("sub/x.go", 3, "syntax error")]
    events = [{"Action": "run", "Package": "example.com/calc/sub", "Test": "TestAdd"},
              {"Action": "output", "Package": "example.com/calc/sub", "Test": "TestAdd",
               "Output": "    calc_test.go:7: Add(2, 3) = -1, want 5\n"},
              {"Action": "fail", "Package": "example.com/calc/sub", "Test": "TestAdd"},
              {"Action": "pass", "Package": "example.com/calc/sub", "Test": "TestMul"}]
    found, counts = go.test_failures("\n".join(json.dumps(e) for e in events), "example.com/calc")
    assert counts == {"pass": 1, "fail": 1, "skip": 0}
    (failure,) = found
    assert (failure.file, failure.line) == ("sub/calc_test.go", 7)  # the package's folder
    assert "TestAdd: Add(2, 3) = -1, want 5" in failure.message


@pytest.mark.docker
def test_go_checks_in_the_sandbox_place_each_failure(docker_sandbox, tmp_path):
    broken = go_project(tmp_path / "broken", CALC.replace("a - b", "a - c"))
    results = by_name(sandbox_checks(broken, docker_sandbox, 120, syntax_ok=True))
    build = results["go-build"]
    assert not build.passed and (build.failures[0].file, build.failures[0].line) == ("calc.go", 5)
    assert "undefined: c" in build.failures[0].message
    assert results["go-test"].skipped

    wrong = go_project(tmp_path / "wrong")
    results = by_name(sandbox_checks(wrong, docker_sandbox, 120, syntax_ok=True))
    assert results["go-build"].passed and results["go-vet"].passed
    test = results["go-test"]
    assert not test.passed and test.detail == "1 failed"
    (failure,) = test.failures
    assert (failure.file, failure.line) == ("calc_test.go", 7)
    assert "Add(2, 3) = -1, want 5" in failure.message

    vetted = go_project(tmp_path / "vet", CALC.replace(
        "package calc\n", 'package calc\n\nimport "fmt"\n\nfunc Show() { fmt.Printf("%d", "x") }\n'))
    failure = by_name(sandbox_checks(vetted, docker_sandbox, 120, syntax_ok=True))["go-vet"].failures[0]
    assert failure.file == "calc.go" and failure.line == 5 and "Printf" in failure.message

    right = go_project(tmp_path / "right", CALC.replace("a - b", "a + b"))
    results = by_name(sandbox_checks(right, docker_sandbox, 120, syntax_ok=True))
    assert all(r.passed for r in results.values()), results
    assert results["go-test"].detail == "1 passed"


@pytest.mark.docker
def test_go_checks_run_offline_as_the_sandbox_user(docker_sandbox, tmp_path):
    project = go_project(tmp_path)
    result = docker_sandbox.run(project, "id -u; go env GOPROXY GOFLAGS CGO_ENABLED; "
                                "go version", timeout=60)
    assert result.ok, result.stderr
    assert result.stdout.split()[:4] == ["1000", "off", "-mod=mod", "0"]


@pytest.mark.docker
def test_the_loop_repairs_a_go_bug(fake_llm, llm_env, tmp_path, docker_ready):
    from tests.test_loop import build, report

    spec = tmp_path / "calc.md"
    spec.write_text("# Calc\nA Go module `example.com/calc` (`go.mod`, Go 1.19) with package "
                    "`calc` in `calc.go`: `func Add(a, b int) int`, tested by `calc_test.go`.\n")
    fix = ("Diagnosis: Add subtracts.\n\ncalc.go\n<<<<<<< SEARCH\n\treturn a - b\n=======\n"
           "\treturn a + b\n>>>>>>> REPLACE\n")
    fake_llm.responder = ProjectModel({"go.mod": GO_MOD, "calc.go": CALC,
                                       "calc_test.go": CALC_TEST}, debug=[fix])
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--max-iters", "2")
    assert result.exit_code == 0, result.output
    data = report(out)
    assert data["status"] == "green" and data["best_round"] == 1
    first = {c["name"]: c for c in data["rounds"][0]["checks"]}
    assert not first["go-test"]["passed"]
    assert first["go-test"]["failures"][0]["file"] == "calc_test.go"
    assert "return a + b" in (out / "calc.go").read_text()
    log = subprocess.run(["git", "log", "--format=%s"], cwd=out, capture_output=True, text=True,
                         check=True).stdout
    assert "round 1 (repair)" in log


# ---------------------------------------------------------------- acceptance tests in Go

FORGER = ('package calc\n\nimport (\n\t"fmt"\n\t"os"\n)\n\n'
          'func init() {\n\tfmt.Println("=== RUN   TestAdd\\n--- PASS: TestAdd (0.00s)\\nPASS")\n'
          '\tos.Exit(0)\n}\n\nfunc Add(a, b int) int {\n\treturn a - b\n}\n')


# attempts to fake a green Go acceptance run (Add is wrong in each): benchmarks/tamper.py
# shows what plain `go test` and healer's acceptance check make of each
GO_ATTACKS = {
    "package init prints passes and exits": {"calc.go": FORGER},
    "passes printed before the real run": {"calc.go": FORGER.replace("\tos.Exit(0)\n", "")
                                           .replace('\t"os"\n', "")},
    "standard output replaced": {"out.go": 'package calc\n\nimport "os"\n\nfunc init() {\n'
                                 '\tos.Stdout = os.Stderr\n}\n'},
    "a package the code imports replaces standard output": {
        "calc.go": CALC.replace("package calc\n", 'package calc\n\nimport "example.com/calc/'
                                'internal/quiet"\n\nvar _ = quiet.On\n'),
        "internal/quiet/quiet.go": 'package quiet\n\nimport "os"\n\nvar On = true\n\n'
                                   'func init() {\n\tos.Stdout = os.Stderr\n}\n'},
    "a model-written test file exits first": {
        "aaa_test.go": 'package calc\n\nimport (\n\t"os"\n\t"testing"\n)\n\n'
                       'func TestEarly(t *testing.T) { os.Exit(0) }\n'},
    "the acceptance test rewritten": {"calc_test.go": CALC_TEST.replace("!= 5", "!= 5 && false")},
}


def attacked(folder: Path, files: dict[str, str]) -> Path:
    project = go_project(folder)
    for rel, text in files.items():
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text)
    return project


def go_contract(project: Path, sandbox):
    from healer.checks.acceptance import contract

    return contract.collect({"calc_test.go": project / "calc_test.go"}, sandbox, timeout=60)


def test_go_acceptance_ids_are_the_test_functions(tmp_path):
    from healer.checks.acceptance import contract

    project = go_project(tmp_path)
    (project / "calc_test.go").write_text(CALC_TEST + "\nfunc TestMain(m *testing.M) {}\n"
                                          "\nfunc helper(t *testing.T) {}\n")
    found = contract.collect({"calc_test.go": project / "calc_test.go"}, sandbox=None, timeout=1)
    assert found.ids == ["calc_test.go::TestAdd"]


@pytest.mark.docker
def test_code_that_prints_passes_and_exits_fools_plain_go_test(docker_sandbox, tmp_path):
    """The control of the first attack: `go test -json` itself reports TestAdd passed."""
    project = go_project(tmp_path, FORGER)
    control = docker_sandbox.run(project, "go test -json ./...", timeout=120)
    assert control.ok and '"Action":"pass","Package":"example.com/calc","Test":"TestAdd"' in \
        control.stdout


@pytest.mark.docker
@pytest.mark.parametrize("name", list(GO_ATTACKS))
def test_go_acceptance_is_not_faked(docker_sandbox, tmp_path, name):
    from healer.checks.acceptance import contract

    user = go_project(tmp_path / "user")
    agreed = go_contract(user, docker_sandbox)
    check = contract.run(attacked(tmp_path / "project", GO_ATTACKS[name]), agreed,
                         docker_sandbox, timeout=120)
    assert not check.passed and check.tests_passed == 0 and check.tests_total == 1
    expected = {"package init prints passes and exits": "the run ended before healer's sentinel",
                "passes printed before the real run": "Add(2, 3) = -1, want 5",
                "standard output replaced": "out.go replaces standard output",
                "a package the code imports replaces standard output":
                    "internal/quiet/quiet.go replaces standard output",
                "a model-written test file exits first": "Add(2, 3) = -1, want 5",
                "the acceptance test rewritten": "calc_test.go is not the user's file any more"}
    assert any(expected[name] in f.message for f in check.failures), check.failures


@pytest.mark.docker
def test_go_acceptance_passes_a_right_answer(docker_sandbox, tmp_path):
    from healer.checks.acceptance import contract

    project = go_project(tmp_path, CALC.replace("a - b", "a + b"))
    check = contract.run(project, go_contract(project, docker_sandbox), docker_sandbox,
                         timeout=120)
    assert check.passed and (check.tests_passed, check.tests_total) == (1, 1)


@pytest.mark.docker
def test_the_loop_makes_go_acceptance_tests_pass(fake_llm, llm_env, tmp_path, docker_ready):
    from tests.test_loop import build, report

    folder = tmp_path / "spec"
    folder.mkdir()
    (folder / "calc_test.go").write_text(CALC_TEST)
    spec = folder / "calc.md"
    spec.write_text("# Calc\nA Go module `example.com/calc` (`go.mod`, Go 1.19) with package "
                    "`calc` in `calc.go`: `func Add(a, b int) int`.\n## Tests\n- calc_test.go\n")
    fix = ("Diagnosis: the init fakes the tests and Add subtracts.\n\ncalc.go\n```go\n"
           + CALC.replace("a - b", "a + b") + "```\n")
    fake_llm.responder = ProjectModel({"go.mod": GO_MOD, "calc.go": FORGER}, debug=[fix])
    out = tmp_path / "out"
    result = build(spec, out, llm_env, "--max-iters", "2")
    assert result.exit_code == 0, result.output
    data = report(out)
    first, second = (next(c for c in r["checks"] if c["name"] == "acceptance")
                     for r in data["rounds"])
    assert (first["passed"], first["tests_passed"]) == (False, 0)  # the forged round
    assert (second["passed"], second["tests_passed"], second["tests_total"]) == (True, 1, 1)
    assert data["status"] == "green" and (out / "calc_test.go").read_text() == CALC_TEST


@pytest.mark.docker
def test_a_test_that_panics_fails_alone_and_says_where(docker_sandbox, tmp_path):
    """Each acceptance test runs in a process of its own: one that panics does not take the
    passes of the others with it, and its failure is placed at the panic's frame."""
    from healer.checks.acceptance import contract

    project = go_project(tmp_path, CALC.replace("a - b", "a + b") +
                         "\nfunc First(xs []int) int {\n\treturn xs[0]\n}\n")
    (project / "calc_test.go").write_text(CALC_TEST + "\nfunc TestFirst(t *testing.T) {\n"
                                          "\tif First(nil) != 0 {\n\t\tt.Fail()\n\t}\n}\n"
                                          "\nfunc TestAddAgain(t *testing.T) {\n"
                                          "\tif Add(1, 1) != 2 {\n\t\tt.Fail()\n\t}\n}\n")
    check = contract.run(project, go_contract(project, docker_sandbox), docker_sandbox,
                         timeout=120)
    assert (check.passed, check.tests_passed, check.tests_total) == (False, 2, 3)
    (failure,) = check.failures
    assert (failure.file, failure.line) == ("calc.go", 9)
    assert "TestFirst: panic: runtime error: index out of range" in failure.message


def test_the_go_scan_never_follows_a_link_to_a_host_file(tmp_path):
    """A hostile folder links a Go file to a host file: healer's host-side scan does not read
    it (the link is shipped as a link; in the sandbox it points at nothing)."""
    from healer.stacks.go_acceptance import GoRun

    host = tmp_path / "host-secret.go"
    host.write_text('package calc\n\nimport "os"\n\nfunc init() { os.Stdout = nil }\n')
    project = go_project(tmp_path / "project")
    (project / "linked.go").symlink_to(host)
    (project / "vendor-ish").mkdir()
    (project / "vendor-ish" / "deep").symlink_to(tmp_path, target_is_directory=True)
    assert GoRun(project, {"calc_test.go": "x"})._tamper() == []
    (project / "linked.go").unlink()
    (project / "real.go").write_text(host.read_text())
    assert GoRun(project, {"calc_test.go": "x"})._tamper() == ["real.go replaces standard output"]
