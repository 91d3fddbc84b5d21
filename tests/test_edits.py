"""Parsing and applying search/replace edits."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from healer.errors import EditError, ModelOutputError, PathEscapeError
from healer.models import Edit
from healer.pipeline.edit_parser import parse_edits, path_candidate
from healer.pipeline.edits import (
    PROTECTED_REASON,
    ApplyResult,
    EditsNotApplied,
    apply_edits,
)

FENCE = "```"


def block(path: str, search: str, replace: str, *, fence: str | None = None) -> str:
    body = f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"
    if fence is not None:
        body = f"{FENCE}{fence}\n{body}{FENCE}\n"
    return body


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ---------------------------------------------------------------- parsing


def test_parse_plain_block_with_diagnosis_around_it():
    text = (
        "The loop stops one item early.\n\n"
        + block("src/calc.py", "for i in range(n - 1):\n", "for i in range(n):\n")
        + "\nThat should fix it.\n"
    )
    assert parse_edits(text) == [
        Edit(path="src/calc.py", search="for i in range(n - 1):\n", replace="for i in range(n):\n")
    ]


@pytest.mark.parametrize(
    "header",
    [
        "src/calc.py",
        "`src/calc.py`",
        "File: src/calc.py",
        "### src/calc.py",
        "**src/calc.py**",
        "### File: `src/calc.py`",
        "./src/calc.py",
    ],
)
def test_parse_accepts_decorated_path_lines(header):
    edits = parse_edits(block(header, "a = 1\n", "a = 2\n"))
    assert [e.path for e in edits] == ["src/calc.py"]


def test_parse_tolerates_fences_around_blocks():
    text = (
        "Two fixes.\n\n"
        + block("a.py", "x = 1\n", "x = 2\n", fence="python")
        + "\n"
        + block("b.py", "y = 1\n", "y = 2\n", fence="")
        + "\nnew.py\n```python\nprint('new')\n```\n"
    )
    edits = parse_edits(text)
    assert edits == [
        Edit(path="a.py", search="x = 1\n", replace="x = 2\n"),
        Edit(path="b.py", search="y = 1\n", replace="y = 2\n"),
        Edit(path="new.py", search=None, replace="print('new')\n"),
    ]


def test_parse_path_inside_the_fence_and_in_the_info_string():
    inside = "```python\napp/x.py\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n```\n"
    info = "```python app/y.py\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE\n```\n"
    assert [e.path for e in parse_edits(inside + info)] == ["app/x.py", "app/y.py"]


def test_parse_several_blocks_share_the_last_path():
    text = (
        block("m.py", "a = 1\n", "a = 2\n")
        + "<<<<<<< SEARCH\nb = 1\n=======\nb = 2\n>>>>>>> REPLACE\n"
    )
    assert [(e.path, e.search) for e in parse_edits(text)] == [
        ("m.py", "a = 1\n"),
        ("m.py", "b = 1\n"),
    ]


def test_parse_empty_search_means_whole_file():
    edits = parse_edits("pkg/new_mod.py\n<<<<<<< SEARCH\n=======\nVALUE = 3\n>>>>>>> REPLACE\n")
    assert edits == [Edit(path="pkg/new_mod.py", search=None, replace="VALUE = 3\n")]


def test_parse_whole_file_fallback_from_fenced_block():
    text = (
        "Here is the corrected module.\n\n### src/app.js\n\n```javascript\n"
        "export function add(a, b) {\n  return a + b;\n}\n```\n"
    )
    assert parse_edits(text) == [
        Edit(
            path="src/app.js",
            search=None,
            replace="export function add(a, b) {\n  return a + b;\n}\n",
        )
    ]


def test_parse_quoted_code_of_a_file_edited_by_blocks_is_not_a_rewrite():
    text = (
        "Diagnosis: the loop in app.py stops early:\n\napp.py\n```python\nfor i in range(n - 1):\n"
        "```\n\n"
        + block("app.py", "for i in range(n - 1):\n", "for i in range(n):\n")
        + "\nnotes.md\n```markdown\n# Notes\n```\n"
    )
    assert parse_edits(text) == [
        Edit(path="app.py", search="for i in range(n - 1):\n", replace="for i in range(n):\n"),
        Edit(path="notes.md", search=None, replace="# Notes\n"),
    ]


@pytest.mark.parametrize(
    ("label", "path"),
    [
        ("# stats.py", "stats.py"),
        ("// src/popup.js", "src/popup.js"),
        ("<!-- popup.html -->", "popup.html"),
        ("/* css/site.css */", "css/site.css"),
        ("stats.py", "stats.py"),
    ],
)
def test_parse_whole_file_labelled_on_its_first_line(label, path):
    text = f"Edits:\n```\n{label}\nbody = 1\n```\n"
    assert parse_edits(text) == [Edit(path=path, search=None, replace="body = 1\n")]


@pytest.mark.parametrize(
    "first",
    [
        "#!/usr/bin/env python3",
        "# -*- coding: utf-8 -*-",
        "# Release v1.2",
        "# v1.2",
        "import os.path",
    ],
)
def test_parse_ordinary_first_lines_are_not_labels(first):
    assert parse_edits(f"Example:\n```\n{first}\nbody = 1\n```\n") == []


def test_parse_ignores_fenced_snippets_without_a_path_line():
    text = "The error:\n```\nTraceback (most recent call last):\n  boom\n```\nNo edits needed."
    assert parse_edits(text) == []


def test_parse_a_fence_closes_only_on_a_fence_as_long_as_its_opener():
    text = "````markdown README.md\n```\nmake\n~~~~\n````\n"
    assert parse_edits(text) == [Edit(path="README.md", search=None, replace="```\nmake\n~~~~\n")]


@pytest.mark.parametrize("answer", [
    "```python\n" * 20_000,  # a looping model's openers, none closed
    "````python app.py\n```\n" * 10_000,  # each closed only by a longer fence, never there
    "```python app.py\n" * 10_000 + "app.py\n<<<<<<< SEARCH\n=======\nx = 1\n>>>>>>> REPLACE\n```\n",
])
def test_parse_an_answer_of_many_fences_is_read_in_one_pass(answer):
    # every opener looked for its closer through the rest of the answer (and at every line
    # between for search/replace markers): 28 s for 16,000 openers, a minute at the answer cap
    import signal

    def hung(*_):
        raise TimeoutError("parse_edits did not finish in 20 s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(20)
    try:
        edits = parse_edits(answer)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert all(e.path == "app.py" for e in edits) and len(edits) <= 1


def test_parse_text_without_edits_is_empty():
    assert parse_edits("I could not find the cause; everything looks fine.") == []
    assert parse_edits("") == []


def test_parse_block_content_keeps_markdown_underlines_and_fences():
    text = (
        "README.md\n<<<<<<< SEARCH\nTitle\n=====\n=======\nBetter title\n============\n\n"
        "```\nmake\n```\n>>>>>>> REPLACE\n"
    )
    assert parse_edits(text) == [
        Edit(
            path="README.md",
            search="Title\n=====\n",
            replace="Better title\n============\n\n```\nmake\n```\n",
        )
    ]


def test_parse_missing_divider_is_a_clear_error():
    text = "a.py\n<<<<<<< SEARCH\nx = 1\nx = 2\n>>>>>>> REPLACE\n"
    with pytest.raises(ModelOutputError, match="no '=======' line"):
        parse_edits(text)


def test_parse_missing_replace_marker_is_a_clear_error():
    text = "a.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n"
    with pytest.raises(ModelOutputError, match="missing the closing '>>>>>>> REPLACE'"):
        parse_edits(text)


def test_parse_block_without_path_is_a_clear_error():
    with pytest.raises(ModelOutputError, match="no file path"):
        parse_edits("<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n")


def test_parse_stray_replace_marker_is_an_error():
    with pytest.raises(ModelOutputError, match="without a '<<<<<<< SEARCH'"):
        parse_edits("a.py\nx = 1\n>>>>>>> REPLACE\n")


@pytest.mark.parametrize("path", ["../outside.py", "/etc/passwd", ".git/config"])
def test_parse_refuses_escaping_paths(path):
    with pytest.raises(PathEscapeError):
        parse_edits(block(path, "a\n", "b\n"))


def test_path_candidate_rejects_prose():
    assert path_candidate("Fix the loop.") is None
    assert path_candidate("e.g.") is None
    assert path_candidate("See https://example.org/x.py") is None
    assert path_candidate("Makefile") == "Makefile"
    assert path_candidate("**`pkg/mod.py`**:") == "pkg/mod.py"


# ---------------------------------------------------------------- applying: matching


def apply_one(tmp_path: Path, content: str, search: str, replace: str) -> str:
    write(tmp_path, {"m.py": content})
    result = apply_edits(tmp_path, [Edit(path="m.py", search=search, replace=replace)])
    assert result.changed == ["m.py"]
    return (tmp_path / "m.py").read_text()


def test_exact_match(tmp_path):
    content = "def f(n):\n    total = 0\n    return total\n"
    new = apply_one(tmp_path, content, "    total = 0\n", "    total = n\n")
    assert new == "def f(n):\n    total = n\n    return total\n"


def test_exact_match_needs_whole_lines(tmp_path):
    # "x = 1" is inside "max = 1" but is not a line of the file: the exact level must not match
    # the substring; the only whole line that says "x = 1" is the second one.
    content = "max = 1\nx = 1\n"
    assert apply_one(tmp_path, content, "x = 1\n", "x = 2\n") == "max = 1\nx = 2\n"


def test_trailing_whitespace_is_ignored(tmp_path):
    content = "a = 1   \nb = 2\t\nc = 3\n"
    new = apply_one(tmp_path, content, "a = 1\nb = 2\n", "a = 10\nb = 20\n")
    assert new == "a = 10\nb = 20\nc = 3\n"


def test_reindented_search_reindents_the_replacement(tmp_path):
    content = "class A:\n    def f(self):\n        if x:\n            return 1\n        return 2\n"
    search = "if x:\n    return 1\n"
    replace = "if x and y:\n    return 1\nelif z:\n    return 3\n"
    new = apply_one(tmp_path, content, search, replace)
    assert new == (
        "class A:\n    def f(self):\n        if x and y:\n            return 1\n"
        "        elif z:\n            return 3\n        return 2\n"
    )


def test_over_indented_search_is_dedented(tmp_path):
    content = "def g():\n    return 1\n"
    new = apply_one(
        tmp_path,
        content,
        "        def g():\n            return 1\n",
        "        def g():\n            return 2\n",
    )
    assert new == "def g():\n    return 2\n"


def test_non_uniform_indentation_is_not_an_indentation_match(tmp_path):
    # Lines shifted by different amounts are not the same code: only fuzzy could match, and
    # here the text differs too much for that.
    content = "if a:\n    b()\n"
    write(tmp_path, {"m.py": content})
    with pytest.raises(EditError, match="not found"):
        apply_edits(tmp_path, [Edit(path="m.py", search="if a:\nb()\nc()\nd()\n", replace="")])


def test_blank_line_differences_are_ignored(tmp_path):
    content = "import os\n\n\ndef f():\n    return os.sep\n\n\ndef g():\n    pass\n"
    search = "import os\ndef f():\n\n    return os.sep\n"
    replace = "import os\n\n\ndef f():\n    return os.pathsep\n"
    new = apply_one(tmp_path, content, search, replace)
    assert new == "import os\n\n\ndef f():\n    return os.pathsep\n\n\ndef g():\n    pass\n"


def test_fuzzy_unique_match(tmp_path):
    content = (
        "def area(width, height):\n"
        "    # the area of a rectangle in square metres\n"
        "    result = width * height\n"
        "    return result\n"
        "\n"
        "def unrelated():\n"
        "    return None\n"
    )
    # The model misremembered one word of the comment.
    search = (
        "def area(width, height):\n"
        "    # the area of a rectangle in square meters\n"
        "    result = width * height\n"
        "    return result\n"
    )
    replace = "def area(width, height):\n    return width * height\n"
    new = apply_one(tmp_path, content, search, replace)
    assert new == (
        "def area(width, height):\n    return width * height\n\ndef unrelated():\n    return None\n"
    )


def test_ambiguous_exact_match_is_refused(tmp_path):
    content = "def a():\n    return 0\n\ndef b():\n    return 0\n"
    write(tmp_path, {"m.py": content})
    with pytest.raises(EditError, match=r"matches 2 places \(lines 2, 5\).*more surrounding"):
        apply_edits(
            tmp_path, [Edit(path="m.py", search="    return 0\n", replace="    return 1\n")]
        )
    assert (tmp_path / "m.py").read_text() == content


def test_ambiguous_fuzzy_match_is_refused_with_the_candidate_places(tmp_path):
    content = (
        "total = compute(alpha, beta, gamma1)\nprint('first')\nprint('more')\n\n"
        "total = compute(alpha, beta, gamma2)\nprint('first')\nprint('more')\n"
    )
    write(tmp_path, {"m.py": content})
    search = "total = compute(alpha, beta, gamma)\nprint('first')\nprint('more')\n"
    with pytest.raises(EditError, match=r"(?s)no place is clearly closer.*lines 1-3.*lines 5-7"):
        apply_edits(tmp_path, [Edit(path="m.py", search=search, replace="x\n")])
    assert (tmp_path / "m.py").read_text() == content


def test_a_one_line_near_miss_is_never_applied_fuzzily(tmp_path):
    # The repair round that turned `mul` into an addition: `add` had changed since the
    # model read it, and its stale SEARCH was 92% similar to the line in `mul`.
    content = ("def add(a, b):\n    return sum((a, b)) - 2 * b\n\n\n"
               "def mul(a, b):\n    return a * b\n")
    write(tmp_path, {"m.py": content})
    with pytest.raises(EditError, match=r"(?s)fewer than 3 non-blank lines.*return a \* b"):
        apply_edits(tmp_path, [Edit(path="m.py", search="    return a - b\n",
                                    replace="    return a + b\n")])
    assert (tmp_path / "m.py").read_text() == content


def test_not_found_gives_closest_region_and_writes_nothing(tmp_path):
    files = {
        "a.py": "VALUE = 1\n",
        "b.py": "def price(n):\n    tax = 0.2\n    return n * (1 + tax)\n",
    }
    write(tmp_path, files)
    before = snapshot(tmp_path)
    edits = [
        Edit(path="a.py", search="VALUE = 1\n", replace="VALUE = 2\n"),  # fine on its own
        Edit(path="b.py", search="def price(n):\n    vat_rate = 0.25\n", replace="def price(n):\n"),
    ]
    with pytest.raises(EditsNotApplied) as caught:
        apply_edits(tmp_path, edits)
    message = str(caught.value)
    assert "1 of 2 edits could not be applied; no file was changed" in message
    assert "edit 2 (b.py): the SEARCH text was not found" in message
    assert "closest region is lines 1-2" in message
    assert "    tax = 0.2" in message
    assert [p.index for p in caught.value.problems] == [2]
    assert snapshot(tmp_path) == before  # a.py was not written either


def test_every_failing_edit_is_named(tmp_path):
    write(tmp_path, {"a.py": "x = 1\n", "tests/test_a.py": "def test(): pass\n"})
    edits = [
        Edit(path="a.py", search="nothing like it\n", replace=""),
        Edit(path="tests/test_a.py", search="def test(): pass\n", replace="def test(): 1\n"),
        Edit(path="../evil.py", search=None, replace="boom\n"),
        Edit(path="missing.py", search="x\n", replace="y\n"),
    ]
    with pytest.raises(EditError) as caught:
        apply_edits(tmp_path, edits, protected=["tests/test_a.py"])
    message = str(caught.value)
    assert "4 of 4 edits" in message
    assert "edit 1 (a.py): the SEARCH text was not found" in message
    assert f"edit 2 (tests/test_a.py): {PROTECTED_REASON}" in message
    assert "edit 3 (../evil.py): path leaves the output folder" in message
    assert "edit 4 (missing.py): file does not exist" in message
    assert not (tmp_path.parent / "evil.py").exists()


def test_protected_file_is_refused_even_for_whole_file_rewrite(tmp_path):
    write(tmp_path, {"tests/test_app.py": "def test(): assert False\n"})
    with pytest.raises(EditError, match="protected acceptance test; change the code, not the test"):
        apply_edits(
            tmp_path,
            [Edit(path="./tests/test_app.py", search=None, replace="def test(): pass\n")],
            protected={"tests/test_app.py"},
        )
    assert (tmp_path / "tests/test_app.py").read_text() == "def test(): assert False\n"


def test_protected_glob(tmp_path):
    write(tmp_path, {"acceptance/test_x.py": "x\n"})
    with pytest.raises(EditError, match="protected"):
        apply_edits(
            tmp_path,
            [Edit(path="acceptance/test_x.py", search="x\n", replace="y\n")],
            protected=["acceptance/*"],
        )


def test_symlink_escape_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "project"
    root.mkdir()
    os.symlink(outside, root / "link")
    with pytest.raises(EditError, match="through a symlink"):
        apply_edits(root, [Edit(path="link/x.py", search=None, replace="x\n")])
    assert not (outside / "x.py").exists()


def test_create_file_with_empty_search(tmp_path):
    edits = parse_edits(
        "pkg/util.py\n<<<<<<< SEARCH\n=======\ndef twice(x):\n    return 2 * x\n>>>>>>> REPLACE\n"
    )
    result = apply_edits(tmp_path, edits)
    assert result == ApplyResult(changed=["pkg/util.py"])
    assert (tmp_path / "pkg/util.py").read_text() == "def twice(x):\n    return 2 * x\n"


def test_empty_search_rewrites_an_existing_file(tmp_path):
    write(tmp_path, {"m.py": "old = True\n"})
    apply_edits(tmp_path, [Edit(path="m.py", search=None, replace="new = True\n")])
    assert (tmp_path / "m.py").read_text() == "new = True\n"


def test_multiple_edits_to_one_file_apply_in_order(tmp_path):
    write(tmp_path, {"m.py": "a = 1\nb = 2\nc = 3\n"})
    edits = [
        Edit(path="m.py", search="a = 1\n", replace="a = 10\n"),
        Edit(path="m.py", search="a = 10\nb = 2\n", replace="a = 10\nb = 20\n"),  # sees edit 1
        Edit(path="m.py", search="c = 3\n", replace=""),
    ]
    result = apply_edits(tmp_path, edits)
    assert result.changed == ["m.py"]
    assert (tmp_path / "m.py").read_text() == "a = 10\nb = 20\n"


def test_unchanged_files_are_not_rewritten(tmp_path):
    write(tmp_path, {"same.py": "x = 1\n", "diff.py": "y = 1\n"})
    stamp = (tmp_path / "same.py").stat().st_mtime_ns
    result = apply_edits(
        tmp_path,
        [
            Edit(path="same.py", search="x = 1\n", replace="x = 1\n"),
            Edit(path="diff.py", search="y = 1\n", replace="y = 2\n"),
        ],
    )
    assert result == ApplyResult(changed=["diff.py"])
    assert (tmp_path / "same.py").stat().st_mtime_ns == stamp


def test_crlf_files_keep_their_line_endings(tmp_path):
    (tmp_path / "w.py").write_bytes(b"a = 1\r\nb = 2\r\n")
    apply_edits(tmp_path, [Edit(path="w.py", search="b = 2\n", replace="b = 3\n")])
    assert (tmp_path / "w.py").read_bytes() == b"a = 1\r\nb = 3\r\n"


def test_file_without_final_newline(tmp_path):
    (tmp_path / "n.py").write_text("a = 1\nb = 2")
    apply_edits(tmp_path, [Edit(path="n.py", search="a = 1\n", replace="a = 0\n")])
    assert (tmp_path / "n.py").read_text() == "a = 0\nb = 2"


def test_parse_then_apply_end_to_end(tmp_path):
    write(
        tmp_path,
        {"shop/cart.py": "class Cart:\n    def total(self):\n        return sum(self.items)\n"},
    )
    answer = (
        "Diagnosis: `total` sums item objects instead of their prices.\n\n"
        "shop/cart.py\n```python\n<<<<<<< SEARCH\n    def total(self):\n"
        "        return sum(self.items)\n=======\n    def total(self):\n"
        "        return sum(item.price for item in self.items)\n>>>>>>> REPLACE\n```\n"
    )
    result = apply_edits(tmp_path, parse_edits(answer))
    assert result.changed == ["shop/cart.py"]
    assert "sum(item.price for item in self.items)" in (tmp_path / "shop/cart.py").read_text()


def test_placeholder_prefix_from_the_instructions_is_dropped(tmp_path):
    write(tmp_path, {"stats.py": "def mean(v):\n    return 0\n"})
    result = apply_edits(
        tmp_path,
        [
            Edit(path="path/to/stats.py", search="    return 0\n", replace="    return 1\n"),
            Edit(path="path/to/new.py", search=None, replace="N = 1\n"),
        ],
    )
    assert result.changed == ["stats.py", "new.py"]
    assert (tmp_path / "stats.py").read_text() == "def mean(v):\n    return 1\n"
    assert not (tmp_path / "path").exists()


def test_search_edit_for_a_missing_path_finds_the_unique_file_it_meant(tmp_path):
    write(tmp_path, {"src/shop/cart.py": "TOTAL = 0\n", "src/other.py": "TOTAL = 0\n"})
    apply_edits(tmp_path, [Edit(path="shop/cart.py", search="TOTAL = 0\n", replace="TOTAL = 1\n")])
    assert (tmp_path / "src/shop/cart.py").read_text() == "TOTAL = 1\n"


def test_resolved_path_is_still_protected(tmp_path):
    write(tmp_path, {"tests/test_a.py": "x = 1\n"})
    with pytest.raises(EditError, match="protected acceptance test"):
        apply_edits(
            tmp_path,
            [Edit(path="path/to/tests/test_a.py", search="x = 1\n", replace="x = 2\n")],
            protected=["tests/test_a.py"],
        )


def test_missing_file_error_names_files_with_the_same_name(tmp_path):
    write(tmp_path, {"a/util.py": "A = 1\n", "b/util.py": "A = 1\n"})
    with pytest.raises(
        EditError, match=r"does not exist.*Files with that name: a/util.py, b/util.py"
    ):
        apply_edits(tmp_path, [Edit(path="util.py", search="A = 1\n", replace="A = 2\n")])


def test_new_file_is_not_redirected_to_a_file_of_the_same_name(tmp_path):
    write(tmp_path, {"util.py": "A = 1\n"})
    apply_edits(tmp_path, [Edit(path="pkg/util.py", search=None, replace="B = 2\n")])
    assert (tmp_path / "util.py").read_text() == "A = 1\n"
    assert (tmp_path / "pkg/util.py").read_text() == "B = 2\n"


# ---------------------------------------------------------------- edits that cannot do harm


def test_a_search_of_only_blank_lines_is_an_error_not_a_rewrite() -> None:
    text = "calc.py\n<<<<<<< SEARCH\n\n\n=======\n\n>>>>>>> REPLACE\n"
    with pytest.raises(ModelOutputError, match="only blank lines"):
        parse_edits(text)
    empty = "calc.py\n<<<<<<< SEARCH\n=======\nX = 1\n>>>>>>> REPLACE\n"
    assert parse_edits(empty) == [Edit(path="calc.py", search=None, replace="X = 1\n")]


def test_an_edit_that_empties_or_guts_a_file_is_refused(tmp_path) -> None:
    from healer.pipeline.policy import EditPolicy

    body = "".join(f"def f{i}():\n    return {i}\n\n" for i in range(6))
    write(tmp_path, {"m.py": body})
    with pytest.raises(EditError, match="leave `m.py` empty"):
        apply_edits(tmp_path, [Edit(path="m.py", search=None, replace="\n")])
    with pytest.raises(EditError, match="cut `m.py` from 12 lines to 2"):
        apply_edits(tmp_path, [Edit(path="m.py", search=None, replace="X = 1\nY = 2\n")])
    assert (tmp_path / "m.py").read_text() == body
    allowed = EditPolicy(may_shrink=frozenset({"m.py"}))
    apply_edits(tmp_path, [Edit(path="m.py", search=None, replace="X = 1\n")], policy=allowed)
    assert (tmp_path / "m.py").read_text() == "X = 1\n"


def test_the_spec_decides_which_files_may_be_emptied(tmp_path) -> None:
    from healer.models import Spec
    from healer.pipeline.policy import EditPolicy

    spec = Spec(text="Keep `legacy.py` but leave it empty.\nA module `calc.py` adds.\n")
    policy = EditPolicy.for_spec(spec)
    assert policy.may_shrink == {"legacy.py"}


@pytest.mark.parametrize(("path", "old", "new"), [
    ("conftest.py", None, "collect_ignore = ['test_calc.py']\n"),
    ("tests/conftest.py", None, "def pytest_runtest_logreport(report):\n    pass\n"),
    ("pytest.ini", None, "[pytest]\naddopts = -k nothing\n"),
    ("tox.ini", None, "[pytest]\naddopts = -p no:python\n"),
    ("sitecustomize.py", None, "import os\n"),
    ("usercustomize.py", None, "import os\n"),
    ("evil.pth", None, "import os\n"),
    ("setup.cfg", "[metadata]\nname = x\n", "[metadata]\nname = x\n[tool:pytest]\naddopts = -x\n"),
    ("pyproject.toml", "[project]\nname = 'x'\n",
     "[project]\nname = 'x'\n[tool.pytest.ini_options]\naddopts = '-k none'\n"),
    ("jest.config.js", None, "module.exports = {};\n"),
    ("package.json", '{"name": "x"}\n', '{"name": "x", "jest": {"testMatch": []}}\n'),
    ("pytest.toml", None, "[pytest]\naddopts = ['--co']\n"),  # pytest 9 reads it
    (".pytest.ini", None, "[pytest]\naddopts = --co\n"),
    ("pytest.py", None, "raise SystemExit(0)\n"),  # `python -m pytest` would run it
    ("Makefile", None, "test:\n\ttrue\n"),  # what a declared `make test` check runs
    ("package.json", '{"name": "x", "scripts": {"test": "node --test"}}\n',
     '{"name": "x", "scripts": {"test": "exit 0"}}\n'),  # what `npm test` runs
])
def test_test_infrastructure_is_refused_unless_the_spec_names_it(tmp_path, path, old, new):
    from healer.pipeline.policy import EditPolicy

    if old is not None:
        write(tmp_path, {path: old})
    edit = Edit(path=path, search=None, replace=new)
    with pytest.raises(EditError, match="test infrastructure"):
        apply_edits(tmp_path, [edit], policy=EditPolicy())
    assert not (tmp_path / path).exists() or (tmp_path / path).read_text() == old
    apply_edits(tmp_path, [edit], policy=EditPolicy(project_infra=frozenset({path})))
    assert (tmp_path / path).read_text() == new


def test_ordinary_settings_in_shared_files_stay_editable(tmp_path) -> None:
    from healer.pipeline.policy import EditPolicy

    write(tmp_path, {"pyproject.toml": "[project]\nname = 'x'\n"})
    edit = Edit(path="pyproject.toml", search=None,
                replace="[project]\nname = 'x'\ndependencies = ['requests']\n")
    apply_edits(tmp_path, [edit], policy=EditPolicy())
    assert "requests" in (tmp_path / "pyproject.toml").read_text()


def test_a_file_the_spec_keeps_is_not_edited_by_a_repair(tmp_path) -> None:
    from healer.models import Spec
    from healer.pipeline.policy import EditPolicy

    write(tmp_path, {"assets/data.csv": "a,b\n1,2\n", "app.py": "x = 1\n"})
    policy = EditPolicy.for_spec(Spec(text="Data.", keep=["assets/*.csv"]))
    edit = Edit(path="assets/data.csv", search=None, replace="a,b\n9,9\n")
    with pytest.raises(EditError, match="keeps"):
        apply_edits(tmp_path, [edit], policy=policy)
    assert (tmp_path / "assets" / "data.csv").read_text() == "a,b\n1,2\n"
    apply_edits(tmp_path, [Edit(path="assets/new.csv", search=None, replace="c\n")],
                policy=policy)  # a kept file that does not exist yet may be written once
    assert (tmp_path / "assets" / "new.csv").read_text() == "c\n"


def test_a_kept_file_is_kept_under_its_name_in_any_case() -> None:
    # where names ignore case (macOS), `Assets/Data.CSV` is the kept `assets/data.csv`
    from healer.models import Spec
    from healer.pipeline.policy import EditPolicy

    policy = EditPolicy.for_spec(Spec(text="Data.", keep=["assets/*.csv"]))
    assert policy.refusal("Assets/Data.CSV", "a,b\n1,2\n", "a,b\n9,9\n")
    assert policy.refusal("assets/other.txt", "a\n", "b\n") is None


@pytest.mark.parametrize("edits", [
    [Edit(path="app.py/b.py", search=None, replace="x = 1\n")],  # app.py is a file
    [Edit(path="new.py", search=None, replace="x = 1\n"),
     Edit(path="new.py/b.py", search=None, replace="y = 1\n")],  # one answer, both ways
    [Edit(path="pkg/b.py", search=None, replace="y = 1\n"),
     Edit(path="pkg", search=None, replace="x = 1\n")],
])
def test_a_file_and_a_folder_of_the_same_name_is_a_refused_edit_not_a_crash(tmp_path,
                                                                            edits) -> None:
    write(tmp_path, {"app.py": "x = 0\n"})
    with pytest.raises(EditError):
        apply_edits(tmp_path, edits)
    assert (tmp_path / "app.py").read_text() == "x = 0\n" and not (tmp_path / "new.py").exists()


def test_edits_that_cannot_all_be_written_leave_every_file_as_it_was(tmp_path,
                                                                     monkeypatch) -> None:
    import healer.pipeline.edits as edits_module

    write(tmp_path, {"a.py": "a = 1\n", "b.py": "b = 1\n"})
    real, calls = edits_module._write_file, []

    def disk_full_on_the_second(target, content, *, crlf):
        calls.append(target.name)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(target, content, crlf=crlf)

    monkeypatch.setattr(edits_module, "_write_file", disk_full_on_the_second)
    with pytest.raises(EditError, match="no file was changed"):
        apply_edits(tmp_path, [Edit(path="a.py", search="a = 1\n", replace="a = 2\n"),
                               Edit(path="b.py", search="b = 1\n", replace="b = 2\n"),
                               Edit(path="c.py", search=None, replace="c = 1\n")])
    assert (tmp_path / "a.py").read_text() == "a = 1\n"
    assert (tmp_path / "b.py").read_text() == "b = 1\n" and not (tmp_path / "c.py").exists()


def test_a_long_search_that_matches_nothing_is_refused_quickly(tmp_path) -> None:
    # a near match is looked for only within a budget of lines compared: past it the answer
    # goes back with its reason at once (it took a minute for 200 lines against 800)
    from healer.pipeline.edit_match import FUZZY_BUDGET

    code = "".join(f"value_{i} = compute({i}, 'alpha', 'beta')\n" for i in range(800))
    write(tmp_path, {"big.py": code})
    search = "".join(f"other_{i} = different({i}, 'gamma')\n" for i in range(200))
    assert 800 * 200 ** 2 > FUZZY_BUDGET > 3000 * 8 ** 2
    with pytest.raises(EditError, match="too long to look for a near match"):
        apply_edits(tmp_path, [Edit(path="big.py", search=search, replace="x = 1\n")])


@pytest.mark.parametrize(("answer", "paths"), [
    ('["a.py", "a.py/b.py", "c.py"]', ["a.py", "c.py"]),  # a file and a folder of one name
    ('["pkg/b.py", "pkg", "c.py"]', ["pkg/b.py", "c.py"]),
    ("[" * 5000 + "\napp.py\n", ["app.py"]),  # nested too deep for JSON: the lines are read
])
def test_a_file_list_answer_that_cannot_be_written_as_given_is_read_safely(answer, paths):
    from healer.pipeline.file_list import parse_file_list

    assert [f.path for f in parse_file_list(answer)] == paths


def test_a_file_list_that_runs_on_is_refused():
    from healer.errors import ModelOutputError
    from healer.pipeline.file_list import MAX_FILES, parse_file_list

    with pytest.raises(ModelOutputError, match="at most"):
        parse_file_list(json.dumps([f"m{i}.py" for i in range(MAX_FILES + 1)]))


WORDS = ('"""Word counts."""\n\nimport re\n\n\ndef count_words(text):\n'
         '    words = re.findall(r"[a-z]+", text.lower())\n    counts = {}\n'
         '    for word in words:\n        counts[word] = counts.get(word, 0) + 1\n'
         '    return counts\n\n\ndef top_words(text, n):\n    counts = count_words(text)\n'
         '    return sorted(counts.items(), key=lambda kv: kv[1])[:n]\n')


def test_a_changed_line_sent_as_the_whole_file_replaces_the_line_it_rewrites(
        tmp_path: Path) -> None:
    (tmp_path / "words.py").write_text(WORDS)
    fragment = "return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]\n"
    assert apply_edits(tmp_path, [Edit(path="words.py", search=None, replace=fragment)]) \
        .changed == ["words.py"]
    assert (tmp_path / "words.py").read_text() == WORDS.replace(
        "key=lambda kv: kv[1])", "key=lambda kv: (-kv[1], kv[0]))")  # indented as the file is


@pytest.mark.parametrize("fragment", [
    "counts = {}\n",  # the same first word and shape at two places: not clearly one of them
    "print('hello')\n",  # like no line of the file
    "def top_words(text, n):\n    return []\n",  # two lines: the function had three
])
def test_a_short_whole_file_that_is_not_clearly_one_line_is_still_refused(
        tmp_path: Path, fragment: str) -> None:
    (tmp_path / "words.py").write_text(WORDS.replace("    counts = count_words(text)\n",
                                                     "    counts = {}\n    counts = count_words(text)\n"))
    before = (tmp_path / "words.py").read_text()
    with pytest.raises(EditsNotApplied, match="would cut `words.py`"):
        apply_edits(tmp_path, [Edit(path="words.py", search=None, replace=fragment)])
    assert (tmp_path / "words.py").read_text() == before


def test_a_python_file_named_with_hyphens_is_the_module_spelled_with_underscores(tmp_path):
    # `scrabble-score.py` cannot be imported: a whole file written under that name beside
    # scrabble_score.py is the module the answer meant, not a new file nothing can import
    write(tmp_path, {"scrabble_score.py": "def score(w):\n    return 0\n",
                     "game/word_list.py": "WORDS = []\n"})
    result = apply_edits(tmp_path, [
        Edit(path="scrabble-score.py", search=None, replace="def score(w):\n    return 1\n"),
        Edit(path="game/word-list.py", search="WORDS = []\n", replace="WORDS = ['a']\n"),
    ])
    assert result.changed == ["scrabble_score.py", "game/word_list.py"]
    assert not (tmp_path / "scrabble-score.py").exists()
    assert (tmp_path / "scrabble_score.py").read_text() == "def score(w):\n    return 1\n"
    # the module it means is still what the policy says of it: a protected test stays as it is
    write(tmp_path, {"game_test.py": "assert True\n"})
    with pytest.raises(EditError, match="protected acceptance test"):
        apply_edits(tmp_path, [Edit(path="game-test.py", search=None, replace="pass\n")],
                    protected=["game_test.py"])
    assert (tmp_path / "game_test.py").read_text() == "assert True\n"
    assert not (tmp_path / "game-test.py").exists()
    # with no such module, the file is what the answer names (a script may have hyphens)
    apply_edits(tmp_path, [Edit(path="run-all.py", search=None, replace="print(1)\n")])
    assert (tmp_path / "run-all.py").read_text() == "print(1)\n"
