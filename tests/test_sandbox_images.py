import pytest

from healer.config import Settings
from healer.errors import ConfigError, SandboxError
from healer.sandbox import images, open_sandbox
from healer.stacks import stack_for


def stack_of(project):
    return stack_for(project).name


def test_tags_are_hashes_of_the_recipes():
    assert images.base_tag().startswith("healer-base:")
    assert len(images.base_tag().split(":")[1]) == 12
    assert images.stack_tag("python") != images.stack_tag("node")
    assert images.stack_tag("python") == images.stack_tag("python")


def test_recipes_are_found_from_the_checkout():
    folder = images.recipes_dir()
    assert (folder / "Dockerfile.python").is_file()
    assert "python3" in images.base_packages()


def test_the_stack_follows_the_project_languages(tmp_path):
    (tmp_path / "app.js").write_text("console.log(1);\n")
    assert stack_of(tmp_path) == "node"
    (tmp_path / "server.py").write_text("print(1)\n")
    assert stack_of(tmp_path) == "python"  # loose .js files beside Python: no npm project
    (tmp_path / "package.json").write_text("{}\n")
    assert stack_of(tmp_path) == "python-node"
    (tmp_path / "main.go").write_text("package main\n")
    assert stack_of(tmp_path) == "python-node"  # no image runs Go beside them: the first two
    for name in ("package.json", "server.py", "app.js"):
        (tmp_path / name).unlink()
    assert stack_of(tmp_path) == "go"
    assert len({images.stack_tag(s) for s in images.stack_names()}) == len(images.stack_names())


def test_unknown_stack_is_a_sandbox_error():
    with pytest.raises(SandboxError):
        images.image_for("cobol")


def test_mirror_comes_from_the_host_sources():
    assert images.debian_mirror().startswith("http")


def test_unsafe_local_needs_the_explicit_flag():
    with pytest.raises(ConfigError):
        open_sandbox(Settings(sandbox="unsafe-local"))
    box = open_sandbox(Settings(sandbox="unsafe-local"), unsafe_local=True)
    try:
        assert box.name == "unsafe-local"
    finally:
        box.close()
