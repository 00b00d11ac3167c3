"""compose.yaml stays in step with the Procfile and config.yml (pure: files only, no network).

Procfile is what `make run` starts on the host; compose.yaml runs the same processes in
containers. Adding a service means one Procfile line plus one compose service (`<<: *app`
and its command); these tests say what is missing.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose.yaml"
PROCFILE = ROOT / "Procfile"
CONFIG_FILE = ROOT / "config.yml"

# The Procfile line format (tools.supervise reads it the same way).
PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")

INFRA_SERVICES = {"rabbitmq", "postgres", "mailpit"}
MIGRATE = "migrate"

# Env names compose may set for app services although config.yml does not read them yet:
# reserved for services still to come. Remove a name once config.yml has `${NAME:...}`.
RESERVED_ENV: set[str] = set()

# Procfile processes that compose replaces with a ready-made image: the local SMTP sink
# of `make run` is Mailpit in compose (same role: catch every mail, show it to the user).
REPLACED_IN_COMPOSE = {"mail": "mailpit"}


def load_procfile() -> dict[str, str]:
    processes = {}
    for line in PROCFILE.read_text().splitlines():
        m = PROCFILE_LINE.match(line.strip())
        if m:
            processes[m.group(1)] = m.group(2).strip()
    return processes


def load_compose() -> dict:
    with COMPOSE_FILE.open() as f:
        return yaml.safe_load(f)


ALL_PROCESSES = load_procfile()
PROCESSES = {k: v for k, v in ALL_PROCESSES.items() if k not in REPLACED_IN_COMPOSE}
COMPOSE = load_compose()
SERVICES = COMPOSE.get("services", {})
CONFIG_TEXT = CONFIG_FILE.read_text()


def as_argv(command) -> list[str]:
    """A compose or Procfile command as an argv list (compose allows a string or a list)."""
    if isinstance(command, list):
        return [str(part) for part in command]
    return shlex.split(command)


def without_venv(command: str) -> list[str]:
    """The Procfile command as it runs in the image: no `.venv/bin/` prefix on any word."""
    return [re.sub(r"^\.venv/bin/", "", word) for word in shlex.split(command)]


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # ["KEY=value", ...] form
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {str(k): ("" if v is None else str(v)) for k, v in env.items()}


def depends_on(service: dict) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):  # short form means service_started
        return {name: "service_started" for name in deps}
    return {name: (spec or {}).get("condition", "service_started") for name, spec in deps.items()}


def config_env_names() -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", CONFIG_TEXT))


def config_default(name: str) -> str | None:
    m = re.search(r"\$\{" + re.escape(name) + r":([^}]*)\}", CONFIG_TEXT)
    return m.group(1) if m else None


def app_services() -> list[str]:
    """Every service that runs our image: one per Procfile process, plus migrate."""
    return sorted(set(PROCESSES) | {MIGRATE})


def test_procfile_has_processes():
    assert PROCESSES, f"no 'name: command' line in {PROCFILE}"


@pytest.mark.parametrize("process, image_service", sorted(REPLACED_IN_COMPOSE.items()))
def test_a_replaced_process_has_its_compose_counterpart(process, image_service):
    assert process in ALL_PROCESSES
    assert "image" in SERVICES[image_service]


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_procfile_process_is_a_compose_service_with_the_same_command(name):
    assert name in SERVICES, f"Procfile process {name!r} has no service in compose.yaml"
    service = SERVICES[name]
    assert "build" in service, f"{name}: app services are built from the Dockerfile"
    assert as_argv(service.get("command", "")) == without_venv(PROCESSES[name]), (
        f"{name}: compose command must be the Procfile command without '.venv/bin/'"
    )


def test_no_compose_app_service_missing_from_procfile():
    built = {name for name, svc in SERVICES.items() if "build" in svc} - {MIGRATE}
    assert built == set(PROCESSES), (
        "services built from the Dockerfile and Procfile processes differ: "
        f"only in compose {sorted(built - set(PROCESSES))}, "
        f"only in Procfile {sorted(set(PROCESSES) - built)}"
    )


def test_dockerfile_exists():
    assert (ROOT / "Dockerfile").is_file()


def test_shared_environment_anchor():
    shared = COMPOSE.get("x-env")
    assert isinstance(shared, dict) and shared, "compose.yaml needs the shared 'x-env: &env' block"
    assert urlsplit(shared["AMQP_URI"]).hostname == "rabbitmq"
    assert urlsplit(shared["RABBIT_MANAGEMENT_URI"]).hostname == "rabbitmq"
    assert urlsplit(shared["POSTGRES_URL"]).hostname == "postgres"
    assert shared["DB_HOST"] == "postgres"  # where the services' own roles connect
    assert shared["GATEWAY_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("name", app_services())
def test_app_service_has_the_shared_environment(name):
    assert name in SERVICES, f"compose.yaml has no service {name!r}"
    env = env_of(SERVICES[name])
    shared = {k: str(v) for k, v in COMPOSE["x-env"].items()}
    assert env == shared, f"{name}: environment must be the shared *env block"
    assert urlsplit(env["AMQP_URI"]).hostname in SERVICES
    assert urlsplit(env["POSTGRES_URL"]).hostname in SERVICES


@pytest.mark.parametrize("name", sorted(PROCESSES))
def test_app_service_waits_for_infra_and_migrations(name):
    deps = depends_on(SERVICES[name])
    assert deps.get("rabbitmq") == "service_healthy", f"{name}: depends_on rabbitmq"
    assert deps.get("postgres") == "service_healthy", f"{name}: depends_on postgres"
    assert deps.get(MIGRATE) == "service_completed_successfully", f"{name}: depends_on migrate"


def test_migrate_is_a_one_shot_after_postgres():
    migrate = SERVICES[MIGRATE]
    assert as_argv(migrate["command"]) == ["python", "-m", "common.migrate", "--seed"]
    assert depends_on(migrate).get("postgres") == "service_healthy"
    assert str(migrate.get("restart", "no")) in {"no", "False", "false"}


@pytest.mark.parametrize("name", sorted(INFRA_SERVICES))
def test_infra_service_has_a_healthcheck(name):
    assert name in SERVICES, f"compose.yaml has no service {name!r}"
    healthcheck = SERVICES[name].get("healthcheck") or {}
    assert healthcheck.get("test"), f"{name}: needs a healthcheck (others wait for it)"


def test_infra_healthcheck_commands():
    assert "rabbitmq-diagnostics" in as_argv(SERVICES["rabbitmq"]["healthcheck"]["test"])
    assert "pg_isready" in as_argv(SERVICES["postgres"]["healthcheck"]["test"])
    assert SERVICES["postgres"]["environment"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"


def test_gateway_publishes_its_port_and_checks_health():
    gateway = SERVICES["gateway"]
    assert any(str(p).endswith(":8000") for p in gateway.get("ports", []))
    assert "/health" in " ".join(as_argv(gateway["healthcheck"]["test"]))


@pytest.mark.parametrize("name", app_services())
def test_every_env_var_is_one_config_yml_reads(name):
    known = config_env_names()
    unknown = set(env_of(SERVICES[name])) - known - RESERVED_ENV
    assert not unknown, (
        f"{name} sets {sorted(unknown)}, which config.yml never reads (no '${{NAME:...}}'): "
        "a typo, or add it to config.yml (or to RESERVED_ENV here for an upcoming service)"
    )


def test_passed_through_defaults_match_config_yml():
    """`NAME: ${NAME:-default}` in compose has the same default as config.yml's ${NAME:default}."""
    for key, value in COMPOSE["x-env"].items():
        m = re.fullmatch(r"\$\{([A-Za-z_][A-Za-z0-9_]*):-(.*)\}", str(value))
        if not m:
            continue
        assert m.group(1) == key, f"{key} passes through another variable, {m.group(1)}"
        assert m.group(2) == config_default(key), f"{key}: default differs from config.yml"
