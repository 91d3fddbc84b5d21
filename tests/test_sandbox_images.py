import pytest

from healer.config import Settings
from healer.errors import ConfigError, SandboxError
from healer.sandbox import images, open_sandbox


def test_tags_are_hashes_of_the_recipes():
    assert images.base_tag().startswith("healer-base:")
    assert len(images.base_tag().split(":")[1]) == 12
    assert images.stack_tag("python") != images.stack_tag("node")
    assert images.stack_tag("python") == images.stack_tag("python")


def test_recipes_are_found_from_the_checkout():
    folder = images.recipes_dir()
    assert (folder / "Dockerfile.python").is_file()
    assert "python3" in images.base_packages()


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
