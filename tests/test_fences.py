from healer.pipeline.fences import strip_fences


def test_plain_answer_is_the_content() -> None:
    assert strip_fences("x = 1\n", "a.py") == "x = 1\n"


def test_outer_fence_removed() -> None:
    assert strip_fences("```python\nx = 1\n```", "a.py") == "x = 1\n"


def test_prose_around_block_dropped_and_longest_block_kept() -> None:
    answer = "Here you go:\n```\nshort\n```\nand the file:\n```js\nlet a = 1;\nlet b = 2;\n```\nDone."
    assert strip_fences(answer, "a.js") == "let a = 1;\nlet b = 2;\n"


def test_markdown_file_keeps_its_own_fences() -> None:
    body = "# Title\n\n```bash\nmake test\n```\n\nMore text."
    assert strip_fences(f"````markdown\n{body}\n````", "README.md") == body + "\n"
    assert strip_fences(f"```markdown\n{body}\n```", "README.md") == body + "\n"
    assert strip_fences(body, "README.md") == body + "\n"


def test_unclosed_fence_keeps_the_rest() -> None:
    assert strip_fences("```python\ndef f():\n    return 1", "a.py") == "def f():\n    return 1\n"


def test_markdown_file_wrapped_after_a_preamble() -> None:
    body = "# Title\n\n```bash\nmake test\n```"
    assert strip_fences(f"Here is the file:\n```markdown\n{body}\n```\n", "README.md") == body + "\n"
