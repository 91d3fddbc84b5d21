"""The debugger stage: format choice, and the whole-file fallback after failed edits."""

from __future__ import annotations

from pathlib import Path

from healer.config import Settings
from healer.llm.client import LLMClient
from healer.models import Failure, Plan, Spec
from healer.pipeline.context import build_context
from healer.pipeline.debug import choose_format, converse, extract_diagnosis, repair
from tests.fakellm import FakeLLM, Reply, error_body

CODE = "def area(w, h):\n    return w + h\n"


def project(tmp_path: Path, lines: int = 2) -> Path:
    root = tmp_path / "p"
    root.mkdir(parents=True)
    (root / "geo.py").write_text(CODE + "\n" * (lines - 2))
    return root


def test_auto_format_is_whole_file_for_a_small_model_on_small_files(tmp_path: Path) -> None:
    small = build_context(project(tmp_path), [], budget_tokens=10_000).lines
    assert choose_format("auto", True, small, ["geo.py"]) == "whole-file"
    assert choose_format("auto", False, small, ["geo.py"]) == "search-replace"
    big = build_context(project(tmp_path / "big", lines=400), [], budget_tokens=10_000).lines
    assert big == {"geo.py": 400}
    assert choose_format("auto", True, big, ["geo.py"]) == "search-replace"
    assert choose_format("whole-file", False, small, ["geo.py"]) == "whole-file"


def test_last_retry_asks_for_whole_files_and_applies_them(fake_llm: FakeLLM,
                                                         fake_settings: Settings,
                                                         tmp_path: Path) -> None:
    root = project(tmp_path)
    miss = "geo.py\n<<<<<<< SEARCH\n    return w plus h\n=======\n    return w * h\n>>>>>>> REPLACE\n"
    whole = "Diagnosis: area adds.\n\ngeo.py\n```python\ndef area(w, h):\n    return w * h\n```\n"
    fake_llm.enqueue(miss, miss, whole)
    client = LLMClient(fake_settings)
    result = converse(client, root, [{"role": "user", "content": "fix"}], protected=[],
                      edit_format="search-replace")
    assert result.changed == ["geo.py"] and not result.error
    assert (root / "geo.py").read_text() == "def area(w, h):\n    return w * h\n"
    prompts = [r["messages"][-1]["content"] for r in fake_llm.requests]
    assert "<<<<<<< SEARCH" in prompts[1] and "the whole\ncorrected file" in prompts[2]


def test_diagnosis_extraction() -> None:
    assert extract_diagnosis("Diagnosis: off by one\nin the loop.\n\ngeo.py\n```\n") == \
        "off by one in the loop."
    assert extract_diagnosis("geo.py\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE") == ""


def test_whole_file_answer_without_a_path_rewrites_the_named_file(fake_llm: FakeLLM,
                                                                  fake_settings: Settings,
                                                                  tmp_path: Path) -> None:
    root = project(tmp_path)
    fake_llm.enqueue("Diagnosis: it adds.\n\n```python\n# geometry\ndef area(w, h):\n"
                     "    return w * h\n```\n")
    result = converse(LLMClient(fake_settings), root, [{"role": "user", "content": "fix"}],
                      protected=[], edit_format="whole-file", example="geo.py")
    assert result.changed == ["geo.py"] and "w * h" in (root / "geo.py").read_text()


def test_unlabeled_block_is_taken_only_once_whole_files_were_asked_for(
        fake_llm: FakeLLM, fake_settings: Settings, tmp_path: Path) -> None:
    root = project(tmp_path)
    fake_llm.enqueue(*["```python\nimport math\ndef area(w, h):\n    return w * h\n```\n"] * 3)
    result = converse(LLMClient(fake_settings), root, [{"role": "user", "content": "fix"}],
                      protected=[], edit_format="search-replace", example="geo.py")
    assert fake_llm.count == 3  # refused twice as search/replace, taken as a whole file
    assert result.changed == ["geo.py"] and "w * h" in (root / "geo.py").read_text()


def test_retries_do_not_accumulate_the_whole_history(fake_llm: FakeLLM, fake_settings: Settings,
                                                      tmp_path: Path) -> None:
    root = project(tmp_path)
    fake_llm.enqueue("no edits here", "still none", "nothing")
    converse(LLMClient(fake_settings), root, [{"role": "user", "content": "fix"}], protected=[])
    assert [len(r["messages"]) for r in fake_llm.requests] == [1, 3, 3]


def test_an_answer_that_changes_nothing_is_sent_back(fake_llm: FakeLLM, fake_settings: Settings,
                                                     tmp_path: Path) -> None:
    root = project(tmp_path)
    same = f"Diagnosis: the test is wrong.\n\ngeo.py\n```python\n{CODE}```\n"
    fixed = "Diagnosis: area adds.\n\ngeo.py\n```python\ndef area(w, h):\n    return w * h\n```\n"
    fake_llm.enqueue(same, fixed)
    result = converse(LLMClient(fake_settings), root, [{"role": "user", "content": "fix"}],
                      protected=[], edit_format="whole-file", example="geo.py")
    assert result.changed == ["geo.py"] and "w * h" in (root / "geo.py").read_text()
    assert "leaves every file exactly as it was" in fake_llm.requests[1]["messages"][-1]["content"]
    assert fake_llm.requests[1]["temperature"] == 0.8  # the same prompt, sampled hotter


def test_an_answer_whose_only_change_the_name_fixes_set_back_is_told_so(
        fake_llm: FakeLLM, fake_settings: Settings, tmp_path: Path) -> None:
    root = project(tmp_path)
    original = "SCALE = 1\n\n\ndef area(w, h):\n    return (w + h) * SCALE\n"
    (root / "geo.py").write_text(original)
    renamed = original.replace("* SCALE", "* scale")  # `scale` is undefined: spelled SCALE
    fixed = "def area(w, h):\n    return w * h\n"
    fake_llm.enqueue(f"Diagnosis: scale.\n\ngeo.py\n```python\n{renamed}```\n",
                     f"Diagnosis: area adds.\n\ngeo.py\n```python\n{fixed}```\n")
    result = converse(LLMClient(fake_settings), root, [{"role": "user", "content": "fix"}],
                      protected=[], edit_format="whole-file", example="geo.py")
    retry = fake_llm.requests[1]["messages"][-1]["content"]
    assert "only changes in `geo.py` what healer puts back as slips" in retry
    assert "exactly as it was" in retry and fake_llm.requests[1]["temperature"] == 0.8
    assert result.changed == ["geo.py"] and (root / "geo.py").read_text() == fixed


def test_a_second_unchanged_answer_ends_the_turn(fake_llm: FakeLLM, fake_settings: Settings,
                                                 tmp_path: Path) -> None:
    root = project(tmp_path)
    same = f"Diagnosis: nothing to do.\n\ngeo.py\n```python\n{CODE}```\n"
    fake_llm.enqueue(same, same, same)
    result = converse(LLMClient(fake_settings), root, [{"role": "user", "content": "fix"}],
                      protected=[], edit_format="whole-file", example="geo.py")
    assert fake_llm.count == 2 and result.changed == []
    assert "leaves every file exactly as it was" in result.error


def test_a_retry_neither_repeats_shown_files_nor_crashes_past_the_context(
        fake_llm: FakeLLM, fake_settings: Settings, tmp_path: Path) -> None:
    root = project(tmp_path)
    same = f"geo.py\n```python\n{CODE}```\n"
    overflow = error_body(400, "request (8357 tokens) exceeds the available context size")
    fake_llm.enqueue(same, Reply(status=400, body=overflow))
    ask = [{"role": "user", "content": f"fix\n\ngeo.py\n```python\n{CODE}```\n"}]
    result = converse(LLMClient(fake_settings), root, ask, protected=[], edit_format="whole-file",
                      example="geo.py")
    retry = fake_llm.requests[1]["messages"][-1]["content"]
    assert "geo.py: as shown above" in retry and "return w + h" not in retry
    assert result.changed == [] and "did not fit the model's context" in result.error
    assert (root / "geo.py").read_text() == CODE


def test_a_local_model_rewrites_the_implicated_small_file_whole_beside_big_ones(
        fake_llm: FakeLLM, fake_settings: Settings, tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "big.py").write_text("".join(f"X{i} = {i}\n" for i in range(400)))
    fixed = "Diagnosis: it adds.\n\n```python\n# geometry\ndef area(w, h):\n    return w * h\n```\n"
    fake_llm.enqueue(fixed)
    failure = Failure(check="pytest", file="geo.py", line=2, message="assert 5 == 6")
    local = LLMClient(fake_settings.model_copy(update={"small_model": True}))
    result = repair(local, root, Spec(text="Area."), Plan(text="plan"), [failure], protected=[],
                    budget_tokens=10_000)
    assert "the whole\ncorrected file" in fake_llm.requests[0]["messages"][-1]["content"]
    assert result.changed == ["geo.py"] and "w * h" in (root / "geo.py").read_text()


def test_a_rambling_repair_is_stopped_at_a_few_times_the_code_and_its_fix_applied(
        fake_llm: FakeLLM, fake_settings: Settings, tmp_path: Path) -> None:
    from healer.pipeline.answer_size import FLOOR, rewrite_limit

    root = project(tmp_path)
    (root / "big.py").write_text("".join(f"X{i} = {i}\n" for i in range(400)))
    rambling = ("Diagnosis: it adds.\n\ngeo.py\n```python\ndef area(w, h):\n    return w * h\n"
                "```\n\n" + "".join(f"Way {i} to write it would be to\n" for i in range(500)))
    fake_llm.enqueue(Reply(text=rambling, finish_reason="length"), "never asked for")
    failure = Failure(check="pytest", file="geo.py", line=2, message="assert 5 == 6")
    local = LLMClient(fake_settings.model_copy(update={"small_model": True, "max_tokens": 8192}))
    result = repair(local, root, Spec(text="Area."), Plan(text="plan"), [failure], protected=[],
                    budget_tokens=10_000)
    assert result.changed == ["geo.py"] and "w * h" in (root / "geo.py").read_text()
    shown = [CODE, (root / "big.py").read_text()]
    assert fake_llm.count == 1  # not continued
    assert fake_llm.requests[0]["max_tokens"] == rewrite_limit(*shown) < 8192
    assert rewrite_limit("") == FLOOR and rewrite_limit("x" * 40_000) > rewrite_limit("x" * 400)


def test_the_acceptance_tests_are_shown_once_in_a_repair_and_a_fresh_sample(
        fake_llm: FakeLLM, fake_settings: Settings, tmp_path: Path) -> None:
    # the spec part of every prompt holds them in full; the codebase part does not repeat them
    from healer.pipeline.regenerate import regenerate_file

    root = project(tmp_path)
    user = tmp_path / "spec"
    user.mkdir()
    tests = "from geo import area\n\n\ndef test_area():\n    assert area(2, 3) == 6  # unique\n"
    (user / "test_geo.py").write_text(tests)
    (root / "test_geo.py").write_text(tests)  # installed in the project, as the loop does
    spec = Spec(text="Area.", source=user / "spec.md", acceptance_tests=[str(user / "test_geo.py")])
    failure = Failure(check="pytest", file="test_geo.py", line=5, message="assert 5 == 6")
    fixed = "Diagnosis: it adds.\n\ngeo.py\n```python\ndef area(w, h):\n    return w * h\n```\n"
    fake_llm.enqueue(fixed, "```python\ndef area(w, h):\n    return w * h\n```\n")
    local = LLMClient(fake_settings.model_copy(update={"small_model": True}))
    repair(local, root, spec, Plan(text="plan"), [failure], protected=["test_geo.py"],
           budget_tokens=10_000)
    regenerate_file(local, root, spec, Plan(text="plan"), "geo.py", [failure],
                    protected=["test_geo.py"], budget_tokens=10_000)
    for request in fake_llm.requests:
        prompt = request["messages"][-1]["content"]
        assert prompt.count("== 6  # unique") == 1
    assert fake_llm.count == 2
    assert "return w + h" in fake_llm.requests[0]["messages"][-1]["content"]  # the code is shown


def test_an_answer_that_also_edits_the_protected_test_keeps_its_code_edit(
        fake_llm: FakeLLM, fake_settings: Settings, tmp_path: Path) -> None:
    """One call, not three: the test's edit is refused, the code's is written and checked."""
    root = project(tmp_path)
    test = "from geo import area\n\n\ndef test_area():\n    assert area(2, 3) == 6\n"
    (root / "test_geo.py").write_text(test)
    both = ("Diagnosis: area adds.\n\n"
            "test_geo.py\n<<<<<<< SEARCH\n    assert area(2, 3) == 6\n=======\n"
            "    assert area(2, 3) == 5\n>>>>>>> REPLACE\n\n"
            "geo.py\n<<<<<<< SEARCH\n    return w + h\n=======\n    return w * h\n"
            ">>>>>>> REPLACE\n")
    fake_llm.enqueue(both)
    result = converse(LLMClient(fake_settings), root, [{"role": "user", "content": "fix"}],
                      protected=["test_geo.py"], edit_format="search-replace")
    assert result.changed == ["geo.py"] and not result.error
    assert "test_geo.py were refused" in result.diagnosis
    assert (root / "geo.py").read_text() == "def area(w, h):\n    return w * h\n"
    assert (root / "test_geo.py").read_text() == test
    assert len(fake_llm.requests) == 1


def test_an_answer_with_a_failing_code_edit_beside_the_test_edit_is_sent_back(
        fake_llm: FakeLLM, fake_settings: Settings, tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "test_geo.py").write_text("def test_area():\n    assert True\n")
    bad = ("test_geo.py\n<<<<<<< SEARCH\n    assert True\n=======\n    assert 1\n"
           ">>>>>>> REPLACE\n\ngeo.py\n<<<<<<< SEARCH\n    return w plus h\n=======\n"
           "    return w * h\n>>>>>>> REPLACE\n")
    only_test = "test_geo.py\n<<<<<<< SEARCH\n    assert True\n=======\n    assert 1\n>>>>>>> REPLACE\n"
    fake_llm.enqueue(bad, only_test, "no edits at all")
    result = converse(LLMClient(fake_settings), root, [{"role": "user", "content": "fix"}],
                      protected=["test_geo.py"], edit_format="search-replace")
    assert result.changed == [] and result.error
    assert (root / "geo.py").read_text() == CODE
    retry = fake_llm.requests[1]["messages"][-1]["content"]
    assert "protected acceptance test" in retry and "edit 2 (geo.py)" in retry
    retry = fake_llm.requests[2]["messages"][-1]["content"]
    assert "protected acceptance test" in retry  # an answer of test edits only: refused


def test_a_failure_only_in_the_acceptance_test_points_the_answer_at_the_module_it_tests(
        fake_llm: FakeLLM, fake_settings: Settings, tmp_path: Path) -> None:
    # An assertion's traceback names only the test file, which the codebase part leaves out;
    # the file the example path names is the one a small model rewrites, so it must be the
    # module the test imports, never the .gitignore healer writes beside it.
    root = project(tmp_path)
    (root / ".gitignore").write_text("__pycache__/\n*.pyc\n")
    (root / "notes.txt").write_text("unrelated\n")
    user = tmp_path / "spec"
    user.mkdir()
    tests = "from geo import area\n\n\ndef test_area():\n    assert area(2, 3) == 6\n"
    (user / "geo_test.py").write_text(tests)
    (root / "geo_test.py").write_text(tests)
    spec = Spec(text="Area.", source=user / "spec.md", acceptance_tests=[str(user / "geo_test.py")])
    failure = Failure(check="pytest", file="geo_test.py", line=5, message="assert 5 == 6",
                      excerpt="geo_test.py:5: in test_area\n    assert area(2, 3) == 6\n"
                              "E   assert 5 == 6")
    fake_llm.enqueue("Diagnosis: it adds.\n\ngeo.py\n```python\ndef area(w, h):\n"
                     "    return w * h\n```\n")
    local = LLMClient(fake_settings.model_copy(update={"small_model": True}))
    result = repair(local, root, spec, Plan(text="plan"), [failure], protected=["geo_test.py"],
                    budget_tokens=10_000)
    prompt = fake_llm.requests[0]["messages"][-1]["content"]
    assert "\ngeo.py\n```python\nthe complete corrected file" in prompt
    project_part = prompt.split("# The project", 1)[1]
    assert project_part.index("\ngeo.py\n") < project_part.index("\n.gitignore\n")
    assert result.changed == ["geo.py"]


def test_a_fresh_sample_of_the_only_file_is_told_there_are_no_other_files(
        fake_llm: FakeLLM, fake_settings: Settings, tmp_path: Path) -> None:
    from healer.pipeline.regenerate import regenerate_file

    root = project(tmp_path)
    fake_llm.enqueue("```python\ndef area(w, h):\n    return w * h\n```\n")
    regenerate_file(LLMClient(fake_settings), root, Spec(text="Area."), Plan(text="plan"),
                    "geo.py", [Failure(check="pytest", message="assert 5 == 6")],
                    protected=[], budget_tokens=10_000)
    prompt = fake_llm.requests[0]["messages"][-1]["content"]
    assert "# The other files of the project\n(none: besides the tests the spec shows, `geo.py` is its only file)\n" in prompt
