"""docker-compose.yml: valid against the Compose specification, every variable documented, the
realms and roles kept apart, the proxy, Keycloak and MinIO configured as the apps expect — and
each casevault service's command started with its compose environment, with no container
engine: the service's host names mapped to the suite's PostgreSQL and S3 API server, its
volumes to folders.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, make_url
from sqlalchemy.exc import DBAPIError

from access.federation import parse_role_map
from portal.db import make_engine
from portal.settings import Settings
from portal.web.errors import SECURITY_HEADERS
from tests.support.roles import ROLES_SQL
from tests.support.services import PG_URL, first_answer, free_port

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
CADDYFILE = ROOT / "deploy" / "caddy" / "Caddyfile"
REALM = ROOT / "deploy" / "keycloak" / "casevault-realm.json"
MINIO = ROOT / "deploy" / "minio"
CONTAINER_PATH = re.compile(r"(?<![\w.:/-])/[\w.-][\w./-]*")
VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:[-?])([^}]*))?\}")

# Every service is either started below as the image's `casevault` command (or, for a one-off
# that overrides the entrypoint, its own shell command), or stood in for by the suite:
STOOD_IN_FOR = {
    "postgres": "the suite's PostgreSQL, a schema of its own",
    "minio": "the suite's S3 API server (moto)",
    "minio-init": "the apps make their buckets on the S3 API server",
    "db-roles": "scripts/db_roles.sql run by the owner, as the service's psql does",
    "keycloak": "not contacted until someone signs in",
    "proxy": "not needed to reach the apps",
}


def interpolate(text: str, values: dict[str, str]) -> str:
    """Compose's variable substitution: ${VAR}, ${VAR:-default}, ${VAR:?error}, and $$ for $."""

    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if name is None:
            return "$"
        value = values.get(name, "")
        if kind == ":?" and not value:
            raise KeyError(f"{name}: {rest or 'required'}")
        return value or (rest if kind == ":-" else "")

    return VARIABLE.sub(one, text)


def referenced() -> dict[str, bool]:
    """Every variable the compose file reads, and whether it is required (`:?` somewhere)."""
    found: dict[str, bool] = {}
    for match in VARIABLE.finditer(COMPOSE.read_text()):
        name, kind, _ = match.groups()
        if name is not None:
            found[name] = found.get(name, False) or kind == ":?"
    return found


def example_values() -> dict[str, str]:
    """The variables .env.example sets, in order, with what it gives them."""
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f".env.example: {line!r} is not NAME=value"
            values[name] = value
    return values


def _services(values: dict[str, str] | None = None) -> dict[str, Any]:
    text = COMPOSE.read_text()
    if values is not None:
        text = interpolate(text, values)
    return dict(yaml.safe_load(text)["services"])


def _casevault_services(services: dict[str, Any]) -> list[str]:
    return [name for name, service in services.items() if service.get("build") == "."]


def _database_user(url: str) -> str:
    return url.split("://", 1)[1].split(":", 1)[0]


def _test_values() -> dict[str, str]:
    """.env.example with a test value in each empty setting (optional ones left at their defaults)."""
    required = referenced()
    return {
        name: value
        or (f"test-{name.lower().replace('_', '-')}-{uuid.uuid4().hex[:8]}" if required[name] else "")
        for name, value in example_values().items()
    }


# --- the file itself -------------------------------------------------------------------------


def test_compose_file_is_valid() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_variable_is_in_the_example_and_the_deployment_guide() -> None:
    used, example = referenced(), example_values()
    assert sorted(used) == sorted(example), "docker-compose.yml and .env.example name different variables"
    rows = [row.split("|")[1:3] for row in DEPLOY_DOC.read_text().splitlines() if row.startswith("| `")]
    table = {name: cell.strip() == "yes" for names, cell in rows for name in re.findall(r"`(\w+)`", names)}
    assert set(used) <= set(table), f"docs/deploy.md lacks {sorted(set(used) - set(table))}"
    assert {name: table[name] for name in used} == used, "docs/deploy.md: which variables are required"
    for name, required in used.items():
        if required:  # compose refuses to start without it: the example leaves nothing to guess
            with pytest.raises(KeyError, match=name):
                _services({**_test_values(), name: ""})


def test_every_long_running_service_has_a_health_check() -> None:
    services = _services(_test_values())
    for name, service in services.items():
        if service.get("restart") != "no":
            assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
    for name in ("internal", "public"):
        check = " ".join(services[name]["healthcheck"]["test"])
        port = services[name]["command"][services[name]["command"].index("--port") + 1]
        assert f"http://127.0.0.1:{port}/healthz" in check and "urllib" in check, name


def test_public_service_holds_no_archive_realm_credentials() -> None:
    values = _test_values()
    services = _services(values)
    public = services["public"]
    assert "CASEVAULT_STORE" not in public["environment"]
    assert "CASEVAULT_RELEASE_STORE" in public["environment"]
    assert "CASEVAULT_STORE" in services["internal"]["environment"]
    held = json.dumps(public)
    for secret in ("ARCHIVE_ACCESS_KEY", "ARCHIVE_SECRET_KEY", "DISPOSAL_SECRET_KEY", "OIDC_CLIENT_SECRET"):
        assert values[secret] not in held, secret
    # It never mounts the internal data volume, where the private keys are.
    assert not any(str(volume).startswith("casevault-keys:") for volume in public["volumes"])


def test_the_worker_holds_what_the_internal_portal_holds() -> None:
    services = _services(_test_values())
    assert services["worker"]["command"] == ["worker"]
    assert services["worker"]["environment"] == services["internal"]["environment"]
    assert services["worker"]["volumes"] == services["internal"]["volumes"]


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
    for app, role in (
        ("internal", "casevault_app"),
        ("worker", "casevault_app"),
        ("public", "casevault_public"),
    ):
        environment = services[app]["environment"]
        assert _database_user(environment["CASEVAULT_DATABASE_URL"]) == role
        # Neither app holds the owner's password, so neither can drop a trigger or alter a table.
        assert "CASEVAULT_MIGRATE_DATABASE_URL" not in environment
        assert not any("POSTGRES_PASSWORD" in str(value) for value in environment.values())
    for app in ("internal", "public"):
        assert services[app]["depends_on"]["db-roles"]["condition"] == "service_completed_successfully"
    # Only the proxy is reachable from outside the compose network.
    assert [name for name, service in services.items() if service.get("ports")] == ["proxy"]


# --- the proxy, Keycloak and MinIO -----------------------------------------------------------


def _sites() -> dict[str, str]:
    """The Caddyfile's site blocks by address, with the snippets they import spelled out."""
    text = CADDYFILE.read_text()
    blocks = dict(re.findall(r"^(\S[^\n{]*?) \{\n(.*?)^\}", text, flags=re.M | re.S))
    snippets = {name[1:-1]: body for name, body in blocks.items() if name.startswith("(")}
    return {
        address: re.sub(r"import (\w+)", lambda m: snippets[m.group(1)], body)
        for address, body in blocks.items()
        if address.startswith("{$")
    }


def _byte_size(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([KMG]iB)", text).groups()  # type: ignore[union-attr]
    return int(number) << {"KiB": 10, "MiB": 20, "GiB": 30}[unit]


def test_the_proxy_adds_the_apps_security_headers_and_hsts_everywhere() -> None:
    sites = _sites()
    assert set(sites) == {"{$PORTAL_HOST}", "{$PUBLIC_HOST}", "{$SSO_HOST}"}
    for address, body in sites.items():
        assert re.search(r'Strict-Transport-Security "max-age=\d{8,}; includeSubDomains"', body), address
        assert "tls /etc/caddy/tls/casevault.crt /etc/caddy/tls/casevault.key" in body, address
    for address in ("{$PORTAL_HOST}", "{$PUBLIC_HOST}"):
        # `?`: only where the app sent none, so its stricter policy for archived content stays.
        sent = dict(re.findall(r'^\s*\?([\w-]+) "([^"]*)"$', sites[address], flags=re.M))
        assert sent == SECURITY_HEADERS, address
        assert "frame-ancestors 'self'" in sent["Content-Security-Policy"]


def test_the_proxy_lets_through_what_each_app_accepts_and_not_much_more() -> None:
    sites, defaults = _sites(), Settings()
    limits = {a: _byte_size(re.search(r"max_size (\S+)", b).group(1)) for a, b in sites.items()}  # type: ignore[union-attr]
    assert defaults.deposit_limit_bytes <= limits["{$PORTAL_HOST}"] <= defaults.deposit_limit_bytes * 1.1
    assert defaults.body_limit_bytes <= limits["{$PUBLIC_HOST}"] <= defaults.body_limit_bytes * 2
    assert "@outside not remote_ip {$INTERNAL_NETWORKS}" in sites["{$PORTAL_HOST}"]
    assert "respond @outside" in sites["{$PORTAL_HOST}"]


def test_the_keycloak_realm_gives_the_claim_and_groups_the_portal_maps() -> None:
    values = _test_values()
    internal = _services(values)["internal"]["environment"]
    realm = json.loads(REALM.read_text())
    assert internal["CASEVAULT_OIDC_ISSUER"] == f"https://{values['SSO_HOST']}/realms/{realm['realm']}"
    (client,) = [c for c in realm["clients"] if c["clientId"] == internal["CASEVAULT_OIDC_CLIENT_ID"]]
    resolved = interpolate(json.dumps(client), values)  # Keycloak resolves the same placeholders
    client = json.loads(resolved)
    assert client["redirectUris"] == [f"{internal['CASEVAULT_PUBLIC_URL']}/sso/callback"]
    assert client["secret"] == internal["CASEVAULT_OIDC_CLIENT_SECRET"]
    assert client["attributes"]["pkce.code.challenge.method"] == "S256"
    assert client["attributes"]["id.token.signed.response.alg"] == "RS256"
    assert not client["publicClient"] and not client["directAccessGrantsEnabled"]
    assert not client["implicitFlowEnabled"]
    (mapper,) = [
        m for m in client["protocolMappers"] if m["protocolMapper"] == "oidc-group-membership-mapper"
    ]
    assert mapper["config"]["claim.name"] == internal["CASEVAULT_OIDC_ROLES_CLAIM"]
    assert mapper["config"]["full.path"] == "false"  # "archivists", not "/archivists"
    assert mapper["config"]["id.token.claim"] == "true"
    role_map = parse_role_map(json.loads(internal["CASEVAULT_OIDC_ROLE_MAP"]))
    assert sorted(g["name"] for g in realm["groups"]) == sorted(role_map)
    supervisors = {g: a.department for g, a in role_map.items() if a.role == "supervisor"}
    assert len(set(supervisors.values())) == len(supervisors) == 4  # one group per department


def _statements(policy: str) -> list[dict[str, Any]]:
    return list(json.loads((MINIO / policy).read_text())["Statement"])


def _reach(policy: str, effect: str) -> tuple[set[str], set[str]]:
    statements = [s for s in _statements(policy) if s["Effect"] == effect]
    return {a for s in statements for a in s["Action"]}, {r for s in statements for r in s["Resource"]}


def test_each_realms_key_reaches_its_own_bucket_and_cannot_loosen_a_lock() -> None:
    services = _services(_test_values())
    buckets = {
        "archive-policy.json": make_url(services["internal"]["environment"]["CASEVAULT_STORE"].split("?")[0]),
        "release-policy.json": make_url(
            services["public"]["environment"]["CASEVAULT_RELEASE_STORE"].split("?")[0]
        ),
    }
    for policy, url in buckets.items():
        bucket = url.database
        allowed, resources = _reach(policy, "Allow")
        assert resources == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}, policy
        assert not any("*" in action for action in allowed), f"{policy}: wildcard actions"
        denied, _ = _reach(policy, "Deny")
        assert {"s3:BypassGovernanceRetention", "s3:PutBucketObjectLockConfiguration"} <= denied
        assert "s3:BypassGovernanceRetention" not in allowed
    archive_allowed, _ = _reach("archive-policy.json", "Allow")
    archive_denied, _ = _reach("archive-policy.json", "Deny")
    assert "s3:DeleteObjectVersion" in archive_denied and "s3:DeleteObjectVersion" not in archive_allowed
    disposal, disposal_resources = _reach("disposal-policy.json", "Allow")
    assert "s3:DeleteObjectVersion" in disposal
    assert disposal_resources == {"arn:aws:s3:::casevault-archive", "arn:aws:s3:::casevault-archive/*"}
    script = (MINIO / "init.sh").read_text()
    assert "for bucket in casevault-archive casevault-release; do" in script
    assert 'mc mb --ignore-existing --with-lock "casevault/$bucket"' in script
    for policy in buckets:
        assert policy in script
    # No casevault service holds MinIO's root credentials or the disposal key.
    for name in _casevault_services(services):
        environment = json.dumps(services[name].get("environment", {}))
        assert "MINIO_ROOT" not in environment and "DISPOSAL" not in environment, name


# --- the services, started -------------------------------------------------------------------


def test_every_service_is_started_here_or_stood_in_for() -> None:
    services = _services(_test_values())
    others = set(services) - set(_casevault_services(services))
    assert others == set(STOOD_IN_FOR), "a service neither started by the suite nor stood in for"


def _order(services: dict[str, Any]) -> list[str]:
    """The services in an order compose could start them in (dependencies first)."""
    done: list[str] = []

    def visit(name: str) -> None:
        if name not in done:
            for dependency in services[name].get("depends_on", {}):
                visit(dependency)
            done.append(name)

    for name in services:
        visit(name)
    return done


@dataclass
class Stand:
    """Where the stood-in-for services are: a PostgreSQL schema, the S3 server, folders."""

    root: Path
    schema: str
    s3: str
    suffix: str

    def database(self, url: str) -> str:
        """A compose database URL, pointed at the suite's PostgreSQL and the test's schema; the
        owner is the suite's user, every other role keeps its name."""
        target, wanted = make_url(PG_URL), make_url(url)
        assert (wanted.host, wanted.port, wanted.database) == ("postgres", 5432, "casevault"), url
        user = target.username if wanted.username == "casevault" else wanted.username
        return target.set(username=user, query={"options": f"-csearch_path={self.schema}"}).render_as_string(
            hide_password=False
        )

    def store(self, url: str) -> str:
        """A compose store URL, pointed at the S3 API server, in buckets of this test's own."""
        match = re.fullmatch(r"s3://([^@]+)@minio:9000/([\w-]+)(\?.*)", url)
        assert match, url
        credentials, bucket, query = match.groups()
        return f"s3://{credentials}@{self.s3}/{bucket}-{self.suffix}{query}"

    def container(self, service: str, volumes: list[str]) -> Path:
        """A folder standing in for the service's file system, each mount a link to the folder
        standing in for its volume (or to the repository's file, for a bind mount)."""
        root = self.root / "containers" / service
        root.mkdir(parents=True)
        for source, target in sorted((v.split(":")[:2] for v in volumes), key=lambda m: len(m[1])):
            where = ROOT / source if source.startswith(".") else self.root / "volumes" / source
            if not source.startswith("."):
                where.mkdir(parents=True, exist_ok=True)
            (root / target.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            (root / target.lstrip("/")).symlink_to(where)
        return root


def _in_host_paths(text: str, root: Path) -> str:
    """Absolute container paths in a value or a command, as paths under the container's folder."""
    return CONTAINER_PATH.sub(lambda match: f"{root}{match.group()}", text)


def _image_environment() -> dict[str, str]:
    """The ENV lines of the Dockerfile's final stage."""
    final = DOCKERFILE_TEXT.rsplit("\nFROM ", 1)[1]
    return dict(re.findall(r"^ENV (\w+)=(\S+)$", final, flags=re.M))


DOCKERFILE_TEXT = (ROOT / "Dockerfile").read_text()


@pytest.fixture
def stand(tmp_path: Path, postgres_available: bool, s3_endpoint: str) -> Iterator[Stand]:
    """An empty PostgreSQL schema for the stack, dropped afterwards."""
    schema = f"compose_{uuid.uuid4().hex[:12]}"
    admin = create_engine("postgresql+psycopg://" + PG_URL.split("://", 1)[1])
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    yield Stand(tmp_path, schema, s3_endpoint, uuid.uuid4().hex[:8])
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    admin.dispose()


def _environment(service: dict[str, Any], stand: Stand, root: Path) -> dict[str, str]:
    """The process environment: the image's, the service's (pointed at the stand-ins), the path
    to this checkout's code — and nothing of the suite's own CASEVAULT_ settings."""
    kept = {
        n: v
        for n, v in os.environ.items()
        if not n.startswith("CASEVAULT_") or n == "CASEVAULT_STRICT_MESSAGES"
    }
    given = service.get("environment") or {}
    # A variable given no value is passed on from compose's own environment: here, none is.
    environment = {**_image_environment(), **{k: str(v) for k, v in given.items() if v is not None}}
    for name, value in environment.items():
        if value.startswith("postgresql://"):
            environment[name] = stand.database(value)
        elif value.startswith("s3://"):
            environment[name] = stand.store(value)
        elif value.startswith("/"):
            environment[name] = _in_host_paths(value, root)
    return {**kept, **environment, "PYTHONPATH": str(ROOT)}


def _command(service: dict[str, Any], root: Path) -> tuple[list[str], int | None]:
    """The service's command as a process here, and the port it serves on (loopback, a free one)."""
    if "entrypoint" in service:
        return [*service["entrypoint"], *(_in_host_paths(part, root) for part in service["command"])], None
    command = list(service["command"])
    if "--port" not in command:
        return [sys.executable, "-m", "portal.cli", *command], None
    port = free_port()
    command[command.index("--port") + 1] = str(port)
    command[command.index("--host") + 1] = "127.0.0.1"
    return [sys.executable, "-m", "portal.cli", *command], port


def _db_roles(stand: Stand) -> None:
    """What the db-roles service does, less the passwords (the suite's roles sign in as it does)."""
    owner = make_engine(stand.database("postgresql://casevault@postgres:5432/casevault"), create=True)
    raw = owner.raw_connection()
    try:
        raw.cursor().execute(ROLES_SQL.read_text(encoding="utf-8"))
        raw.commit()
    finally:
        raw.close()
        owner.dispose()


def _healthy(
    name: str, service: dict[str, Any], server: subprocess.Popen[str], environment: dict[str, str], cwd: Path
) -> None:
    """Run the service's compose health check beside it (the image's python: this one) until it
    passes, while the service keeps running."""
    kind, *check = service["healthcheck"]["test"]
    assert kind == "CMD" and check[0] == "python", f"{name}: a health check this test cannot run"
    deadline = time.monotonic() + 60
    while server.poll() is None:
        done = subprocess.run(
            [sys.executable, *check[1:]], env=environment, cwd=cwd, capture_output=True, text=True
        )
        if done.returncode == 0:
            time.sleep(1)
            assert server.poll() is None, f"{name} exited {server.returncode}"
            return
        assert time.monotonic() < deadline, f"{name}: unhealthy for 60 s:\n{done.stderr}"
        time.sleep(1)
    output = server.stderr.read() if server.stderr else ""
    pytest.fail(f"{name} exited {server.returncode}:\n{output}")


def test_each_casevault_service_starts_with_its_compose_environment(stand: Stand) -> None:
    services = _services(_test_values())
    started: list[subprocess.Popen[str]] = []
    answers: dict[str, httpx.Response] = {}
    databases: dict[str, str] = {}
    try:
        for name in _order(services):
            service = services[name]
            if name == "db-roles":
                _db_roles(stand)
            if name not in _casevault_services(services):
                continue
            root = stand.container(name, service.get("volumes", []))
            command, port = _command(service, root)
            environment = _environment(service, stand, root)
            workdir = Path(_in_host_paths(re.findall(r"^WORKDIR (\S+)$", DOCKERFILE_TEXT, re.M)[-1], root))
            workdir.mkdir(parents=True, exist_ok=True)
            if service.get("restart") == "no":
                done = subprocess.run(command, env=environment, cwd=workdir, capture_output=True, text=True)
                assert done.returncode == 0, f"{name}: {shlex.join(command)}\n{done.stdout}\n{done.stderr}"
                continue
            server = subprocess.Popen(
                command,
                env=environment,
                cwd=workdir,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            started.append(server)
            if port is None:  # serves no HTTP (the worker): healthy by its own health check
                _healthy(name, service, server, environment, workdir)
                continue
            first_answer(f"http://127.0.0.1:{port}/", server, within=90)
            # A page that reads the database as the service's role: the sign-in page, the
            # public portal's front page with the activities it publishes.
            answers[name] = httpx.get(f"http://127.0.0.1:{port}/", follow_redirects=True, timeout=30)
            databases[name] = environment["CASEVAULT_DATABASE_URL"]
    finally:
        for server in started:
            server.terminate()
            server.wait(timeout=10)
    assert set(answers) == {"internal", "public"}
    for name, answer in answers.items():
        assert answer.status_code == 200, f"{name}: {answer.status_code} {answer.text[:300]}"
        assert "text/html" in answer.headers["content-type"], name
    # Started as their roles, neither app can touch the ledger's triggers.
    for url in databases.values():
        engine = make_engine(url)
        try:
            with pytest.raises(DBAPIError, match="must be owner"), engine.begin() as conn:
                conn.exec_driver_sql("DROP TRIGGER ledger_head_forward_only ON ledger_head")
        finally:
            engine.dispose()
