"""docker-compose.yml: valid against the Compose specification, realms kept apart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

COMPOSE = Path(__file__).resolve().parent.parent / "docker-compose.yml"


def test_compose_file_is_valid() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_service_holds_no_archive_realm_credentials() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert "CASEVAULT_STORE" not in services["public"]["environment"]
    assert "CASEVAULT_RELEASE_STORE" in services["public"]["environment"]
    assert "CASEVAULT_STORE" in services["internal"]["environment"]


def _services() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text())["services"])


def _database_user(url: str) -> str:
    return url.split("://", 1)[1].split(":", 1)[0]


def test_migrations_run_as_the_owner_and_the_apps_connect_as_their_roles() -> None:
    services = _services()
    migrate = services["migrate"]
    assert migrate["command"] == ["migrate"]
    assert _database_user(migrate["environment"]["CASEVAULT_MIGRATE_DATABASE_URL"]) == "casevault"
    roles = services["db-roles"]
    assert roles["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    script = next(v.split(":")[0] for v in roles["volumes"] if v.endswith(":/db_roles.sql:ro"))
    assert (COMPOSE.parent / script).is_file()
    assert "-f /db_roles.sql" in roles["command"][0]
    for app, role in (("internal", "casevault_app"), ("public", "casevault_public")):
        environment = services[app]["environment"]
        assert services[app]["depends_on"]["db-roles"]["condition"] == "service_completed_successfully"
        assert _database_user(environment["CASEVAULT_DATABASE_URL"]) == role
        # Neither app holds the owner's password, so neither can drop a trigger or alter a table.
        assert "CASEVAULT_MIGRATE_DATABASE_URL" not in environment
        assert not any("POSTGRES_PASSWORD" in str(value) for value in environment.values())
