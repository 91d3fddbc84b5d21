"""The debugger's view of the codebase within a token budget."""

from __future__ import annotations

from pathlib import Path

from healer.llm.accounting import estimate_tokens
from healer.models import Failure
from healer.pipeline.codebase import collect_files
from healer.pipeline.context import build_context
from healer.pipeline.outline import outline
from healer.pipeline.ranking import import_graph, mentioned_paths, rank_files


def write(root: Path, files: dict[str, str | bytes]) -> None:
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)


def filler(name: str, functions: int) -> str:
    """A Python module of a predictable, largish size."""
    body = [f'"""The {name} module."""\n']
    for i in range(functions):
        body.append(
            f"\n\ndef {name}_{i}(value: int) -> int:\n"
            f"    # step {i} of the {name} computation, written out at length\n"
            f"    result = value * {i} + {i}\n"
            f"    return result\n"
        )
    return "".join(body)


def small_project(root: Path) -> None:
    write(
        root,
        {
            "app/main.py": "from app.pricing import price\n\n\ndef run():\n    return price(2)\n",
            "app/pricing.py": "def price(n):\n    return n * TAX\n",
            "app/__init__.py": "",
            "tests/test_pricing.py": "from app.pricing import price\n\n\ndef test():\n"
            "    assert price(1) == 1.2\n",
            "README.md": "# Shop\n",
        },
    )


def test_everything_fits_so_everything_is_full(tmp_path):
    small_project(tmp_path)
    context = build_context(tmp_path, [], budget_tokens=10_000)
    assert sorted(context.full) == [
        "README.md",
        "app/__init__.py",
        "app/main.py",
        "app/pricing.py",
        "tests/test_pricing.py",
    ]
    assert context.outlined == [] and context.omitted == []
    # each file: its path on its own line, then a fence holding the exact content, unnumbered
    assert "app/pricing.py\n```python\ndef price(n):\n    return n * TAX\n```\n" in context.text
    assert context.tokens == estimate_tokens(context.text) <= 10_000


def test_skips_tool_folders_binaries_locks_and_huge_files(tmp_path):
    small_project(tmp_path)
    write(
        tmp_path,
        {
            ".git/config": "[core]\n",
            ".healer/state.json": "{}\n",
            "node_modules/lib/index.js": "module.exports = 1;\n",
            "app/__pycache__/main.cpython-311.pyc": b"\x00\x01binary",
            ".venv/lib/site.py": "x = 1\n",
            "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00",
            "package-lock.json": "{}\n",
            "poetry.lock": "# lock\n",
            "data/big.csv": "a,b\n" * 60_000,
        },
    )
    files, skipped = collect_files(tmp_path)
    assert sorted(files) == [
        "README.md",
        "app/__init__.py",
        "app/main.py",
        "app/pricing.py",
        "tests/test_pricing.py",
    ]
    assert sorted(skipped) == ["data/big.csv", "logo.png", "package-lock.json", "poetry.lock"]
    context = build_context(tmp_path, [], budget_tokens=100_000)
    assert "node_modules" not in context.text and "site.py" not in context.text
    assert sorted(context.skipped) == sorted(skipped)


def tight_project(root: Path) -> None:
    write(
        root,
        {
            "shop/cart.py": filler("cart", 10),
            "shop/catalog.py": filler("catalog", 40),
            "shop/report.py": filler("report", 40),
            "shop/export.py": filler("export", 40),
        },
    )


def test_tight_budget_keeps_the_failing_file_full_and_outlines_the_rest(tmp_path):
    tight_project(tmp_path)
    cart = (tmp_path / "shop/cart.py").read_text()
    failure = Failure(check="pytest", message="AssertionError", file="shop/cart.py", line=7)
    budget = estimate_tokens(cart) + 1_500  # outlines of the others fit, their full text not
    context = build_context(tmp_path, [failure], budget_tokens=budget)
    assert context.full == ["shop/cart.py"]
    assert sorted(context.outlined) == ["shop/catalog.py", "shop/export.py", "shop/report.py"]
    assert context.omitted == []
    assert cart in context.text
    # outlines carry signatures with line numbers, not bodies
    assert "def catalog_3(value: int) -> int:" in context.text
    assert "result = value * 3 + 3" not in context.text.split("shop/catalog.py", 1)[1]
    assert context.tokens <= budget


def test_excerpt_only_mention_ranks_a_file_up(tmp_path):
    tight_project(tmp_path)
    report = (tmp_path / "shop/report.py").read_text()
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "/work/project/tests/test_shop.py", line 4, in test_report\n'
        '  File "/work/project/shop/report.py", line 12, in report_2\n'
        "ZeroDivisionError: division by zero\n"
    )
    failure = Failure(check="pytest", message="1 failed", excerpt=traceback)
    budget = estimate_tokens(report) + 1_500
    context = build_context(tmp_path, [failure], budget_tokens=budget)
    assert context.full[0] == "shop/report.py"
    assert {"shop/catalog.py", "shop/export.py"} <= set(context.outlined)
    without_evidence = build_context(tmp_path, [], budget_tokens=budget)
    assert "shop/report.py" not in without_evidence.full


def test_names_only_when_even_outlines_do_not_fit(tmp_path):
    tight_project(tmp_path)
    cart = (tmp_path / "shop/cart.py").read_text()
    failure = Failure(check="pytest", message="boom", file="shop/cart.py")
    context = build_context(tmp_path, [failure], budget_tokens=estimate_tokens(cart) + 120)
    assert context.full == ["shop/cart.py"]
    assert sorted(context.omitted) == ["shop/catalog.py", "shop/export.py", "shop/report.py"]
    assert "- shop/export.py\n" in context.text


def test_importers_and_imports_rank_above_unrelated_files(tmp_path):
    small_project(tmp_path)
    write(tmp_path, {"app/unrelated.py": "X = 1\n"})
    files, _ = collect_files(tmp_path)
    failure = Failure(check="pytest", message="NameError: name 'TAX'", file="app/pricing.py")
    ranks = rank_files(files, [failure], plan_text="See README.md for the product.")
    assert ranks["app/pricing.py"] == 0
    assert ranks["app/main.py"] == 1  # imports the failing file
    assert ranks["tests/test_pricing.py"] == 1  # imports it too
    assert ranks["README.md"] == 2  # named in the plan
    assert ranks["app/unrelated.py"] == 4


def test_test_mentioning_the_failing_module_ranks_above_the_rest(tmp_path):
    write(
        tmp_path,
        {
            "calc.py": "def add(a, b):\n    return a - b\n",
            "tests/test_cli.py": "import subprocess\n\n\ndef test():\n"
            "    subprocess.run(['python', '-m', 'calc'])\n",
            "other.py": "Y = 2\n",
        },
    )
    files, _ = collect_files(tmp_path)
    ranks = rank_files(files, [Failure(check="pytest", message="x", file="calc.py")])
    assert ranks == {"calc.py": 0, "tests/test_cli.py": 3, "other.py": 4}


def test_extension_references_form_the_graph(tmp_path):
    write(
        tmp_path,
        {
            "manifest.json": '{"background": {"service_worker": "background.js"},'
            ' "action": {"default_popup": "popup.html"}}\n',
            "popup.html": '<script src="popup.js"></script>\n',
            "popup.js": "import { fmt } from './lib/format';\n",
            "lib/format.js": "export function fmt(x) { return x; }\n",
            "background.js": "chrome.runtime.onMessage.addListener(() => {});\n",
        },
    )
    files, _ = collect_files(tmp_path)
    graph = import_graph(files)
    assert graph["manifest.json"] == {"background.js", "popup.html"}
    assert graph["popup.html"] == {"popup.js"}
    assert graph["popup.js"] == {"lib/format.js"}
    error = "Uncaught TypeError: x is undefined at chrome-extension://abcdef/popup.js:3:5"
    ranks = rank_files(files, [Failure(check="chrome", message=error)])
    assert ranks["popup.js"] == 0
    assert ranks["popup.html"] == ranks["lib/format.js"] == 1
    assert ranks["background.js"] == 4


def test_relative_python_imports(tmp_path):
    write(
        tmp_path,
        {
            "pkg/__init__.py": "from .core import run\n",
            "pkg/core.py": "from . import helpers\nfrom .models import Item\n",
            "pkg/helpers.py": "",
            "pkg/models.py": "class Item: ...\n",
        },
    )
    files, _ = collect_files(tmp_path)
    graph = import_graph(files)
    assert graph["pkg/__init__.py"] == {"pkg/core.py"}
    assert graph["pkg/core.py"] == {"pkg/__init__.py", "pkg/helpers.py", "pkg/models.py"}


def test_mentioned_paths_prefers_the_longest_project_path():
    paths = ["app.py", "src/app.py", "src/util.py", "lib/only_here.py"]
    text = 'File "/home/u/proj/src/app.py", line 3\nonly_here.py:10: error\nsrc/util.pyc'
    assert mentioned_paths(paths, text) == {"src/app.py", "lib/only_here.py"}


def test_python_outline_has_docstring_classes_methods_and_constants():
    source = (
        '"""Prices and taxes.\n\nMore text."""\n\nTAX = 0.2\n\n\n'
        "class Cart(Base, metaclass=Meta):\n    def total(self, *, rounding: int = 2) -> float:\n"
        "        return 0.0\n\n    async def sync(self):\n        pass\n\n\n"
        "def helper(x):\n    return x\n"
    )
    text = outline("shop/cart.py", source)
    assert text.splitlines() == [
        '    1: """Prices and taxes."""',
        "    5: TAX = ...",
        "    8: class Cart(Base, metaclass=Meta):",
        "    9:     def total(self, *, rounding: int=2) -> float:",
        "   12:     async def sync(self):",
        "   16: def helper(x):",
    ]


def test_outline_of_broken_python_falls_back_to_lines():
    text = outline("bad.py", "def ok():\n    pass\n\ndef broken(:\n")
    assert text.splitlines() == ["    1: def ok():", "    4: def broken(:"]


def test_javascript_outline_lists_declarations():
    source = (
        "const API = 'x';\nexport async function load(url) {\n  return 1;\n}\n"
        "const fmt = (x) => x;\nclass View {}\nexport default function () {}\n"
    )
    text = outline("popup.js", source)
    assert text.splitlines() == [
        "    2: export async function load(url) {",
        "    5: const fmt = (x) => x;",
        "    6: class View {}",
        "    7: export default function () {}",
    ]


def test_other_files_outline_is_their_first_lines():
    text = outline("notes.txt", "".join(f"line {i}\n" for i in range(1, 21)))
    assert text.splitlines()[0] == "    1: line 1"
    assert text.splitlines()[-1] == "    9: ..."


def test_content_with_fences_gets_a_longer_fence(tmp_path):
    write(tmp_path, {"README.md": "# Use\n\n```\nmake\n```\n"})
    context = build_context(tmp_path, [], budget_tokens=1_000)
    assert "README.md\n````markdown\n# Use\n\n```\nmake\n```\n````\n" in context.text


def test_excluded_files_are_left_out_entirely(tmp_path):
    from healer.pipeline.context import build_context

    (tmp_path / "a.py").write_text("A = 1\n")
    (tmp_path / "b.py").write_text("B = 2\n")
    context = build_context(tmp_path, [], budget_tokens=10_000, exclude=["a.py"])
    assert context.full == ["b.py"] and "A = 1" not in context.text


def test_the_gitignore_healer_writes_is_not_shown_but_one_someone_changed_is(tmp_path):
    from healer.workspace import Workspace

    ws = Workspace(tmp_path / "p")
    ws.init()
    write(ws.root, {"geo.py": "def area(w, h):\n    return w * h\n"})
    context = build_context(ws.root, [], budget_tokens=10_000)
    assert context.full == ["geo.py"] and ".gitignore" not in context.text
    (ws.root / ".gitignore").write_text("__pycache__/\ndist/\n")
    context = build_context(ws.root, [], budget_tokens=10_000)
    assert context.full == ["geo.py", ".gitignore"] and "dist/" in context.text
