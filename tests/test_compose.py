"""docker-compose.yml: valid against the Compose specification, realms kept apart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parent.parent / "docker-compose.yml"


def test_compose_file_is_valid() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_service_holds_no_archive_realm_credentials() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert "CASEVAULT_STORE" not in services["public"]["environment"]
    assert "CASEVAULT_RELEASE_STORE" in services["public"]["environment"]
    assert "CASEVAULT_STORE" in services["internal"]["environment"]
