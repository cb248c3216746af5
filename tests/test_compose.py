"""Checks of the Docker deployment: docker-compose.yaml, Dockerfile, .env.example.

Static checks read the files with PyYAML; one test asks docker-compose itself to validate the
file (`config -q`, no Docker engine needed). Without the binary that test skips, naming the
Debian package, except when CI is set: CI must not skip silently.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"

AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
}
# Services that run task code (Celery workers) or pipeline code on demand (triggerer callbacks,
# the CLI container used for `tthc` commands).
TASK_SERVICES = {"airflow-worker", "airflow-triggerer", "airflow-cli"}

SHARED_DRIVE = "/opt/tthc/shared_drive"
REPORTS_DIR = "/opt/tthc/reports"
ARCHIVE_DIR = "/opt/tthc/archive"

# Names of settings whose values are secrets: they must come from .env, never be literals.
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET|SQL_ALCHEMY_CONN|RESULT_BACKEND|WAREHOUSE_URL")
VAR_REF = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # "KEY=value" form
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def volumes_of(service: dict) -> list[dict]:
    """Volumes as {source, target, read_only}, from the short or the long syntax."""
    result = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, str):
            # The source may hold ${VAR:-./x}; split on ':' outside ${...}.
            parts = re.split(r":(?![^{]*\})", volume)
            source, target = parts[0], parts[1]
            mode = parts[2] if len(parts) > 2 else "rw"
            result.append({"source": source, "target": target, "read_only": "ro" in mode.split(",")})
        else:
            result.append(
                {
                    "source": volume.get("source"),
                    "target": volume["target"],
                    "read_only": bool(volume.get("read_only")),
                }
            )
    return result


def mount(service: dict, target: str) -> dict | None:
    return next((v for v in volumes_of(service) if v["target"] == target), None)


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def compose_text_without_comments() -> str:
    return "\n".join(
        line for line in COMPOSE_FILE.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")
    )


# --- Airflow services --------------------------------------------------------------------------


def test_official_layout(services):
    expected = AIRFLOW_SERVICES | {"postgres", "redis", "warehouse-db", "flower"}
    assert expected <= set(services)


def test_every_airflow_service_uses_the_custom_image_and_celery(services):
    for name in AIRFLOW_SERVICES | {"airflow-cli", "flower"}:
        service = services[name]
        build = service.get("build")
        assert build, f"{name}: no build section"
        dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
        assert dockerfile == "Dockerfile", name
        assert "tthc-airflow" in service.get("image", ""), f"{name}: image {service.get('image')!r}"
        env = env_of(service)
        assert env.get("AIRFLOW__CORE__EXECUTOR") == "CeleryExecutor", name
        assert env.get("AIRFLOW__CELERY__BROKER_URL", "").startswith("redis://redis:"), name


def test_celery_worker_and_broker(services):
    assert services["airflow-worker"]["command"] == "celery worker"
    assert services["redis"]["image"].startswith("redis:")


def test_project_folders_and_settings(services):
    for name in AIRFLOW_SERVICES:
        env = env_of(services[name])
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false", name
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/airflow/project/dags", name
        assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == "/opt/airflow/project/plugins", name
        assert env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Asia/Ho_Chi_Minh", name
        assert env["TZ"] == "Asia/Ho_Chi_Minh", name
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/", name
        assert env["TTHC_DATA_DIR"] == "/opt/tthc/data", name
        assert env["TTHC_SHARED_DRIVE"] == SHARED_DRIVE, name
        assert env["TTHC_REPORTS_DIR"] == REPORTS_DIR, name
        assert env["TTHC_ARCHIVE_DIR"] == ARCHIVE_DIR, name


def test_jwt_secret_is_shared_by_all_components(services):
    values = {env_of(services[name]).get("AIRFLOW__API_AUTH__JWT_SECRET") for name in AIRFLOW_SERVICES}
    assert len(values) == 1 and None not in values
    assert values.pop().startswith("${AIRFLOW_JWT_SECRET")
    keys = {env_of(services[name]).get("AIRFLOW__API__SECRET_KEY") for name in AIRFLOW_SERVICES}
    assert len(keys) == 1 and None not in keys


def test_apiserver_health_check_hits_version_endpoint(services):
    api = services["airflow-apiserver"]
    assert api["command"] == "api-server"
    assert any(str(p).endswith(":8080") for p in api["ports"])
    test = api["healthcheck"]["test"]
    assert any("/api/v2/version" in part for part in test), test


def test_components_wait_for_init(services):
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        depends = services[name]["depends_on"]
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name


def test_init_migrates_and_creates_the_portal_pool(services):
    init = services["airflow-init"]
    script = "\n".join(init["command"]) if isinstance(init["command"], list) else init["command"]
    assert re.search(r"airflow pools set tthc_portal\b", script)
    assert env_of(init)["_AIRFLOW_DB_MIGRATE"] == "true"


def test_flower_is_optional(services):
    assert services["flower"].get("profiles"), "flower must only start under a profile"


# --- Databases ---------------------------------------------------------------------------------


def test_metadata_db_and_warehouse_db_are_different_services(services):
    env = env_of(services["airflow-worker"])
    meta_host = re.search(r"@([^:/]+)", env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).group(1)
    wh_url = env["TTHC_WAREHOUSE_URL"]
    wh_host = re.search(r"@([^:/]+)", wh_url).group(1)
    assert meta_host == "postgres" and wh_host == "warehouse-db"
    assert meta_host != wh_host
    assert wh_url.startswith("postgresql+psycopg2://tthc:${TTHC_WAREHOUSE_PASSWORD")
    assert wh_url.endswith("@warehouse-db:5432/tthc")
    for host in (meta_host, wh_host):
        assert services[host]["image"].startswith("postgres:")
        assert services[host].get("healthcheck")
    meta_data = mount(services["postgres"], "/var/lib/postgresql/data")["source"]
    wh_data = mount(services["warehouse-db"], "/var/lib/postgresql/data")["source"]
    assert meta_data != wh_data


# --- Volumes -----------------------------------------------------------------------------------


def test_shared_drive_is_read_only_wherever_it_is_mounted(services):
    for name in TASK_SERVICES:
        volume = mount(services[name], SHARED_DRIVE)
        assert volume, f"{name}: shared drive not mounted"
        assert volume["read_only"], f"{name}: shared drive must be read-only"
        assert "TTHC_SHARED_DRIVE_HOST" in volume["source"]
    for name, service in services.items():
        volume = mount(service, SHARED_DRIVE)
        assert volume is None or volume["read_only"], f"{name}: shared drive mounted writable"


def test_reports_and_archive_are_writable(services):
    for name in TASK_SERVICES:
        for target in (REPORTS_DIR, ARCHIVE_DIR, "/opt/tthc/data"):
            volume = mount(services[name], target)
            assert volume, f"{name}: {target} not mounted"
            assert not volume["read_only"], f"{name}: {target} must be writable"


# --- Secrets -----------------------------------------------------------------------------------


def test_no_secret_has_a_literal_value(services):
    for name, service in services.items():
        for key, value in env_of(service).items():
            if SECRET_NAME.search(key) and not key.endswith("_FILE") and value:
                refs = VAR_REF.findall(value)
                assert refs, f"{name}: {key} has a literal value"
                # The secret part itself must come from .env: no default after ':-'.
                for var, op, default in refs:
                    if SECRET_NAME.search(var):
                        assert op in ("", ":?", "?") or default == "", f"{name}: {key} defaults ${{{var}}}"


def test_env_example_defines_every_variable_without_a_default():
    defined = env_example()
    for var, op, _ in VAR_REF.findall(compose_text_without_comments()):
        if op in ("", ":?", "?"):
            assert var in defined, f".env.example lacks {var}"
            assert defined[var], f".env.example gives {var} no placeholder"


def test_env_example_lists_every_variable_and_explains_secrets():
    defined = env_example()
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    for var, _, _ in VAR_REF.findall(compose_text_without_comments()):
        assert var in defined, f".env.example does not list {var}"
    for var in ("AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY", "AIRFLOW_DB_PASSWORD",
                "AIRFLOW_ADMIN_PASSWORD", "TTHC_WAREHOUSE_PASSWORD"):
        assert "CHANGE_ME" in defined[var], f"{var} must be a placeholder"
        comment = text[: text.index(f"\n{var}=")].rsplit("\n\n", 1)[-1]
        assert re.search(r"[Gg]enerate|[Cc]hoose", comment), f"no generation hint for {var}"
    assert "TTHC_PORTAL_TOKEN" in defined


def test_env_is_ignored_by_git_and_docker():
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    ignored = DOCKERIGNORE.read_text().split()
    assert ".env" in ignored and ".venv" in ignored and ".git" in ignored


# --- Dockerfile --------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def test_dockerfile_starts_from_official_airflow_image():
    froms = [rest for keyword, rest in dockerfile_instructions() if keyword == "FROM"]
    assert len(froms) == 1
    assert froms[0].startswith("apache/airflow:3.3.2"), froms[0]


def test_dockerfile_installs_project_with_constraints_as_airflow_user():
    user = "airflow"  # the base image's default user
    installs = []
    for keyword, rest in dockerfile_instructions():
        if keyword == "USER":
            user = rest.split(":")[0]
        elif keyword == "RUN" and re.search(r"\bpip install\b", rest):
            installs.append((user, rest))
    assert installs, "the Dockerfile does not pip install the project"
    for user, command in installs:
        assert user != "root" and user != "0", f"pip install as root: {command}"
        assert "--root-user-action" not in command
        assert "-c constraints.txt" in command or "--constraint constraints.txt" in command, command
    assert any(re.search(r"-e /opt/airflow/project\b", command) for _, command in installs)
    copies = [rest for keyword, rest in dockerfile_instructions() if keyword == "COPY"]
    assert any(rest.endswith("/opt/airflow/project") for rest in copies)


# --- docker-compose itself ---------------------------------------------------------------------


def compose_command() -> list[str] | None:
    """docker-compose (Debian's 1.29), else the Compose v2 plugin if the docker CLI has it."""
    if binary := shutil.which("docker-compose"):
        return [binary]
    if docker := shutil.which("docker"):
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=60)
        if probe.returncode == 0:
            return [docker, "compose"]
    return None


def clean_env() -> dict[str, str]:
    """The environment without AIRFLOW*/TTHC_* variables, which would override the env file."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TTHC_", "COMPOSE_"))}


def compose_config(env_file: Path) -> subprocess.CompletedProcess:
    """`docker-compose config -q` with an env file; missing binary: skip, but fail under CI."""
    command = compose_command()
    if command is None:
        message = (
            "docker-compose not found: install the Debian package `docker-compose` "
            "(apt-get install docker-compose) to validate docker-compose.yaml"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return subprocess.run(
        [*command, "--env-file", str(env_file), "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=clean_env(),
    )


def test_docker_compose_validates_the_file():
    result = compose_config(ENV_EXAMPLE)
    assert result.returncode == 0, result.stderr


def test_docker_compose_refuses_to_run_without_secrets(tmp_path):
    """With no .env, the `${VAR:?...}` secrets stop compose instead of starting with blanks."""
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("")
    result = compose_config(empty_env)
    assert result.returncode != 0
    assert "in .env" in result.stderr
