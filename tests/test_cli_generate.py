"""`healer generate` end to end: the real CLI and openai client against the scripted server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from click.testing import CliRunner

from healer.cli import cli
from tests.scripted_model import ProjectModel

FILES = {
    "calc.py": "def add(a, b):\n    return a + b\n",
    "README.md": "# Calc\n\n```bash\npython -c 'import calc'\n```\n",
}


def spec_file(tmp_path: Path) -> Path:
    spec = tmp_path / "spec" / "calc.md"
    spec.parent.mkdir()
    spec.write_text("# Calc\nA module `calc.py` with `add(a, b)`, and a `README.md` that shows "
                    "how to use it.\n")
    (spec.parent / "calc.py.md").write_text("Only integers are added.")
    return spec


def run(args: list[str], llm_env: dict[str, str]):
    return CliRunner().invoke(cli, args, env=llm_env, catch_exceptions=False)


def git_log(folder: Path) -> list[str]:
    out = subprocess.run(["git", "log", "--format=%s"], cwd=folder, capture_output=True, text=True,
                         check=False)
    return out.stdout.splitlines()


def test_generate_writes_every_file_with_commits(fake_llm, llm_env, tmp_path) -> None:
    model = ProjectModel(FILES)
    fake_llm.responder = model
    out = tmp_path / "out"
    result = run(["generate", str(spec_file(tmp_path)), "-o", str(out), "--json"], llm_env)
    assert result.exit_code == 0, result.output
    assert (out / "calc.py").read_text() == FILES["calc.py"]
    assert (out / "README.md").read_text() == FILES["README.md"]  # inner fences survive
    assert (out / ".healer" / "plan.md").read_text().startswith("## Files")
    assert git_log(out) == ["round 0: generate 2 files", "file list: 2 files",
                            "plan: shared dependencies"]
    assert sorted(model.kinds()) == ["file_list", "generate", "generate", "plan"]
    calc_prompt = next(p for k, p in model.prompts if k == "generate" and "content of the file `calc.py`" in p)
    assert "Only integers are added." in calc_prompt  # the per-file spec reached its prompt
    summary = json.loads(result.stdout)
    assert sorted(summary["files"]) == ["README.md", "calc.py"] and summary["usage"]["calls"] == 4


def test_second_identical_run_makes_no_llm_call(fake_llm, llm_env, tmp_path) -> None:
    fake_llm.responder = ProjectModel(FILES)
    spec = spec_file(tmp_path)
    assert run(["generate", str(spec), "-o", str(tmp_path / "a")], llm_env).exit_code == 0
    calls = fake_llm.count
    assert run(["generate", str(spec), "-o", str(tmp_path / "b")], llm_env).exit_code == 0
    assert fake_llm.count == calls  # every answer came from the cache
    assert (tmp_path / "b" / "calc.py").read_text() == FILES["calc.py"]
    assert run(["generate", str(spec), "-o", str(tmp_path / "c"), "--no-cache"], llm_env).exit_code == 0
    assert fake_llm.count == 2 * calls


def test_prose_file_list_is_retried(fake_llm, llm_env, tmp_path) -> None:
    model = ProjectModel(FILES, file_list=["I would suggest a clean modular design."])
    fake_llm.responder = model
    result = run(["generate", str(spec_file(tmp_path)), "-o", str(tmp_path / "o")], llm_env)
    assert result.exit_code == 0, result.output
    assert model.kinds().count("file_list") == 2
    assert (tmp_path / "o" / "calc.py").is_file()


def test_escaping_paths_never_written(fake_llm, llm_env, tmp_path) -> None:
    evil = json.dumps({"files": [{"path": "../escape.py"}]})
    fake_llm.responder = ProjectModel(FILES, file_list=[evil, evil, evil])
    result = run(["generate", str(spec_file(tmp_path)), "-o", str(tmp_path / "o")], llm_env)
    assert result.exit_code == 1
    assert "unsafe path" in result.stderr and "Traceback" not in result.output
    assert not (tmp_path / "escape.py").exists()


def test_regenerate_one_file_from_saved_plan(fake_llm, llm_env, tmp_path) -> None:
    model = ProjectModel(dict(FILES))
    fake_llm.responder = model
    spec, out = spec_file(tmp_path), tmp_path / "o"
    assert run(["generate", str(spec), "-o", str(out)], llm_env).exit_code == 0
    model.files["calc.py"] = "def add(a, b):\n    return int(a) + int(b)\n"
    result = run(["generate", str(spec), "-o", str(out), "--file", "calc.py", "--no-cache"], llm_env)
    assert result.exit_code == 0, result.output
    assert "int(a)" in (out / "calc.py").read_text()
    assert model.kinds().count("plan") == 1  # the saved plan was reused
    assert git_log(out)[0] == "regenerate calc.py"


def test_unreachable_endpoint_is_a_clear_infrastructure_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HEALER_CACHE_DIR", str(tmp_path / "cache"))
    llm_env = {"OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "HEALER_MODEL": "m"}
    result = CliRunner().invoke(cli, ["generate", "say hi", "-o", str(tmp_path / "o")], env=llm_env)
    assert result.exit_code == 3
    assert "127.0.0.1:9" in result.stderr


def test_ctrl_c_during_generation_exits_promptly(fake_llm, tmp_path) -> None:
    import os
    import signal
    import sys
    import time

    from tests.fakellm import Reply

    model = ProjectModel(FILES)

    def slow_files(request):
        answer = model(request)
        return Reply(text=answer, delay=60) if model.kinds()[-1] == "generate" else answer

    fake_llm.responder = slow_files
    llm_env = {**os.environ, "OPENAI_BASE_URL": fake_llm.url, "HEALER_MODEL": "test-model",
           "HEALER_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "healer", "generate", str(spec_file(tmp_path)),
                             "-o", str(tmp_path / "o")], env=llm_env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while model.kinds().count("generate") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert model.kinds().count("generate") == 2  # both files are in flight
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130 and "resume" in err
    assert time.monotonic() - started < 15  # not the 60 s the calls in flight would take


def test_every_call_starts_with_the_same_prefix(fake_llm, llm_env, tmp_path) -> None:
    # system, spec, then the plan: what an endpoint's prompt cache can reuse call after call
    fake_llm.responder = ProjectModel(FILES)
    result = run(["generate", str(spec_file(tmp_path)), "-o", str(tmp_path / "out")], llm_env)
    assert result.exit_code == 0, result.output
    requests = [r["messages"] for r in fake_llm.requests]
    systems = {m[0]["content"] for m in requests}
    users = [m[1]["content"] for m in requests]
    spec_part = users[0].split("\n# Task", 1)[0]
    assert len(systems) == 1 and all(u.startswith(spec_part) for u in users)
    plan = (tmp_path / "out" / ".healer" / "plan.md").read_text().strip()
    after_plan = users[1:]
    assert after_plan and all(u.startswith(f"{spec_part}\n# Shared plan\n{plan}")
                              for u in after_plan)


def test_by_default_a_spec_naming_its_one_file_costs_one_call(fake_llm, llm_env,
                                                              tmp_path) -> None:
    model = ProjectModel({"calc.py": FILES["calc.py"]})
    fake_llm.responder = model
    spec = tmp_path / "calc.md"
    spec.write_text("# Calc\nA module `calc.py` with `add(a, b)`.\n")
    out = tmp_path / "out"
    result = run(["generate", str(spec), "-o", str(out)], llm_env)
    assert result.exit_code == 0, result.output
    assert model.kinds() == ["generate"]
    assert (out / "calc.py").read_text() == FILES["calc.py"]
    saved = (out / ".healer" / "plan.md").read_text()
    assert "names the project's only file" in saved  # what repairs are told instead of a plan
    assert "# Shared plan\n" + saved.strip() in model.prompts[0][1]


def test_with_plan_short_a_one_file_spec_gets_a_short_plan(fake_llm, llm_env, tmp_path) -> None:
    model = ProjectModel({"calc.py": FILES["calc.py"]}, plan="## Interfaces\n- add(a, b)\n")
    fake_llm.responder = model
    spec = tmp_path / "calc.md"
    spec.write_text("# Calc\nA module `calc.py` with `add(a, b)`.\n")
    (tmp_path / "healer.toml").write_text('plan = "short"\n')
    result = run(["generate", str(spec), "-o", str(tmp_path / "out")], llm_env)
    assert result.exit_code == 0, result.output
    assert model.kinds() == ["plan", "generate"]
    plan_request = fake_llm.requests[0]
    assert "At most 15 lines" in plan_request["messages"][-1]["content"]
    assert "## Files" not in plan_request["messages"][-1]["content"]
    assert plan_request["max_tokens"] == 400
    assert "# Shared plan\n## Interfaces\n- add(a, b)" in model.prompts[1][1]
    two = tmp_path / "two.md"  # a spec of two files gets the whole plan
    two.write_text("# Two\n## Files\n- `a.py`: one\n- `b.py`: two\n")
    fake_llm.responder = ProjectModel({"a.py": "A = 1\n", "b.py": "B = 2\n"})
    result = run(["generate", str(two), "-o", str(tmp_path / "out2")], llm_env)
    assert result.exit_code == 0, result.output
    assert "Plan the software project" in fake_llm.requests[-3]["messages"][-1]["content"]


def test_with_plan_always_a_one_file_spec_gets_the_whole_plan(fake_llm, llm_env,
                                                              tmp_path) -> None:
    model = ProjectModel({"calc.py": FILES["calc.py"]})
    fake_llm.responder = model
    spec = tmp_path / "calc.md"
    spec.write_text("# Calc\nA module `calc.py` with `add(a, b)`.\n")
    (tmp_path / "healer.toml").write_text('plan = "always"\n')
    result = run(["generate", str(spec), "-o", str(tmp_path / "out")], llm_env)
    assert result.exit_code == 0, result.output
    assert model.kinds() == ["plan", "generate"]
    assert "Plan the software project" in fake_llm.requests[0]["messages"][-1]["content"]
