"""Which files count as secrets: never shown to a model, never committed."""

from __future__ import annotations

import pytest

from healer.secrets import is_secret_like


@pytest.mark.parametrize("path", [".env", "config/.env.production", "prod.env", "deploy.pem",
                                  "tls.key", "id_rsa", "id_ed25519.pub", "aws_credentials",
                                  "client_secret.json", ".npmrc", ".pypirc"])
def test_secret_files(path: str) -> None:
    assert is_secret_like(path)


@pytest.mark.parametrize("path", [".env.example", "app/secrets.py", "credentials.js",
                                  "docs/credentials.md", "main.py", "keyboard.py"])
def test_code_and_templates_are_not_secrets(path: str) -> None:
    assert not is_secret_like(path)
