"""Checks of the Docker deployment: docker-compose.yaml, Dockerfile, .env.example, the warehouse's roles.

Static checks read the files with PyYAML; some tests ask docker-compose itself to validate the
file (`config -q`, no Docker engine needed). Without the binary those tests skip, naming the
Debian package, except when CI is set: CI must not skip silently. The containers themselves are
never started here (no engine); tests/airflow/test_celery_cluster.py runs the same settings as processes.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, make_url, text

from tests.support import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
ROLES_SQL = ROOT / "deploy" / "warehouse-db" / "10-tthc-roles.sql"
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
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET|SALT|BASIC_AUTH|SQL_ALCHEMY_CONN|RESULT_BACKEND|WAREHOUSE_URL")
# The secrets of .env: empty in .env.example, so compose refuses to start until they are generated.
SECRETS = ("AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_API_SECRET_KEY", "AIRFLOW_DB_PASSWORD",
           "AIRFLOW_ADMIN_PASSWORD", "TTHC_WAREHOUSE_PASSWORD", "TTHC_WAREHOUSE_ADMIN_PASSWORD", "TTHC_PII_SALT",
           "FLOWER_PASSWORD")
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


def init_script(services) -> str:
    init = services["airflow-init"]
    return "\n".join(init["command"]) if isinstance(init["command"], list) else init["command"]


def test_init_migrates_and_creates_the_portal_pool(services):
    from tthc_airflow import PORTAL_POOL

    assert re.search(rf"airflow pools set {PORTAL_POOL}\b", init_script(services))
    assert env_of(services["airflow-init"])["_AIRFLOW_DB_MIGRATE"] == "true"


def test_init_refuses_a_missing_or_short_salt_with_the_pipelines_own_check(services):
    script = init_script(services)
    assert "TTHC_PII_SALT" in script.split("; do", 1)[0]  # among the secrets that may not be empty
    assert "from tthc.sources.portal.privacy import salt_from_env; salt_from_env()" in script


def test_flower_is_optional_bound_to_localhost_and_behind_a_password(services):
    flower = services["flower"]
    assert flower.get("profiles"), "flower must only start under a profile"
    assert all(str(p).startswith("127.0.0.1:") for p in flower["ports"]), flower["ports"]
    auth = env_of(flower)["AIRFLOW__CELERY__FLOWER_BASIC_AUTH"]
    assert re.fullmatch(r"\w+:\$\{FLOWER_PASSWORD:\?[^}]+\}", auth), auth
    assert "AIRFLOW__CELERY__FLOWER_BASIC_AUTH" in " ".join(flower["healthcheck"]["test"])


def test_a_lost_worker_loses_nothing_settings(services):
    """Late acknowledgement, a visibility timeout, heartbeat detection and capped retries (the values
    tests/airflow/test_celery_cluster.py makes small and kills a worker under)."""
    env = env_of(services["airflow-worker"])
    assert env["AIRFLOW__CELERY__TASK_ACKS_LATE"] == "true"
    visibility = int(env["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT"])
    heartbeat = int(env["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"])
    assert 60 <= heartbeat < visibility
    assert visibility >= 3600, "a message must never be handed out again while its task still runs"
    assert int(env["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL"]) <= heartbeat
    assert int(env["AIRFLOW__CORE__MAX_TASK_RETRY_DELAY"]) >= 120  # DEFAULT_ARGS: 2 min, doubling
    # A message lost with its worker: the task is queued again after this long.
    assert heartbeat <= int(env["AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT"]) < visibility
    assert int(env["AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL"]) <= 120
    assert env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"]
    assert "tthc_airflow.celery_worker" in env["AIRFLOW__CELERY__EXTRA_CELERY_CONFIG"]


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


def test_the_pipeline_logs_in_to_the_warehouse_as_a_role_the_init_script_makes(services):
    """warehouse-db's superuser is `postgres`; the pipeline's role, from TTHC_WAREHOUSE_URL, is made by
    deploy/warehouse-db/10-tthc-roles.sql on the first start with the same name, database and password."""
    wh = services["warehouse-db"]
    env = env_of(wh)
    url = env_of(services["airflow-worker"])["TTHC_WAREHOUSE_URL"]
    user, password_ref, database = re.fullmatch(r"postgresql\+psycopg2://(\w+):(\$\{[^}]+\})@warehouse-db:5432/(\w+)",
                                                url).groups()
    assert env["POSTGRES_USER"] == "postgres" != user
    assert "TTHC_WAREHOUSE_ADMIN_PASSWORD" in env["POSTGRES_PASSWORD"]
    assert (env["TTHC_WAREHOUSE_ROLE"], env["TTHC_WAREHOUSE_DB"]) == (user, database)
    assert VAR_REF.findall(env["TTHC_WAREHOUSE_PASSWORD"])[0][0] == VAR_REF.findall(password_ref)[0][0]
    init = mount(wh, "/docker-entrypoint-initdb.d")
    assert init and init["read_only"] and (ROOT / init["source"]).resolve() == ROLES_SQL.parent
    assert [p.name for p in ROLES_SQL.parent.iterdir()] == [ROLES_SQL.name]


@pytest.mark.postgres
def test_the_warehouse_role_is_no_superuser_and_migrates_the_schema(pg_url):
    """The roles script run as the postgres image runs it; the pipeline's migrations then succeed as
    that role (the BI role's grants included), and the role cannot do what it does not need."""
    from tests.support import PG_ADMIN_URL
    from tests.support.deployment import app_role_warehouse
    from tthc.warehouse import migrate, transaction

    with app_role_warehouse(PG_ADMIN_URL) as (url, role):
        applied = migrate(url)
        assert "V100__bi_readonly_role" in applied
        with transaction(url) as conn:
            flags = conn.execute(text("SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles "
                                      "WHERE rolname = current_user")).one()
            bi_reads_marts = conn.execute(text("SELECT has_table_privilege('tthc_bi', 'mart_area_kpi_monthly', "
                                               "'SELECT')")).scalar()
        assert tuple(flags) == (False, False, False, False)
        assert bi_reads_marts
        engine = create_engine(url, isolation_level="AUTOCOMMIT")  # CREATE DATABASE runs outside a transaction
        for statement in ("CREATE ROLE tthc_intruder", "CREATE DATABASE tthc_intruder", "ALTER ROLE CURRENT_USER SUPERUSER"):
            with pytest.raises(Exception, match="InsufficientPrivilege"):
                with engine.connect() as conn:
                    conn.execute(text(statement))
        engine.dispose()
        assert make_url(url).username == role


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


OPTIONAL_PORTAL_CREDENTIALS = {"TTHC_PORTAL_TOKEN", "TTHC_PORTAL_TOKEN_URL", "TTHC_PORTAL_CLIENT_SECRET",
                               "TTHC_PORTAL_PASSWORD"}


def test_no_secret_has_a_literal_value_or_a_default(services):
    for name, service in services.items():
        for key, value in env_of(service).items():
            if SECRET_NAME.search(key) and not key.endswith("_FILE") and value:
                refs = VAR_REF.findall(value)
                assert refs, f"{name}: {key} has a literal value"
                # The secret itself comes from .env, and compose refuses to start without it
                # (`${VAR:?...}`): a plain ${VAR} would start the service with an empty one. Only the
                # portal's credentials may be empty: no portal configured, or a profile that signs in
                # another way (a static token, or OAuth2 with a client secret or a password).
                for var, op, default in refs:
                    if SECRET_NAME.search(var) and var not in OPTIONAL_PORTAL_CREDENTIALS:
                        assert op == ":?", f"{name}: {key} takes ${{{var}}} without :? (op {op!r})"


def test_env_example_leaves_every_required_secret_empty():
    """A copied but unfilled .env starts nothing: compose refuses every `${VAR:?...}` left empty."""
    defined = env_example()
    required = {var for var, op, _ in VAR_REF.findall(compose_text_without_comments()) if op in ("", ":?", "?")}
    assert required == set(SECRETS)
    for var in required:
        assert var in defined, f".env.example lacks {var}"
        assert defined[var] == "", f".env.example gives {var} a value: it would start with it"
    assert "CHANGE_ME" not in ENV_EXAMPLE.read_text(encoding="utf-8")


def test_env_example_lists_every_variable_and_explains_secrets():
    defined = env_example()
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    for var, _, _ in VAR_REF.findall(compose_text_without_comments()):
        assert var in defined, f".env.example does not list {var}"
    for var in SECRETS:
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


def _normalized(name: str) -> str:
    """A distribution's name as PEP 503 compares them (ruamel.yaml = ruamel-yaml)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[_normalized(name)] = version
    return pins


def test_dockerfile_starts_from_the_official_image_of_the_pinned_airflow_and_python():
    froms = [rest for keyword, rest in dockerfile_instructions() if keyword == "FROM"]
    assert len(froms) == 1
    airflow, python = re.fullmatch(r"apache/airflow:([\d.]+)-python(\d+\.\d+)", froms[0]).groups()
    assert airflow == constraints()["apache-airflow"]
    # The tests run on the same Python as the image (the venv: `make install`).
    assert python == f"{sys.version_info.major}.{sys.version_info.minor}"


def test_image_and_tests_install_the_same_pins():
    """The Dockerfile and the Makefile (the tests' .venv) install from the one constraints.txt; the
    direct dependencies are pinned there at the versions pyproject.toml names; and the interpreter
    running this test has exactly those versions installed."""
    import tomllib

    pins = constraints()
    direct = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    for requirement in direct:
        name, version = requirement.split("==")
        assert pins.get(_normalized(name)) == version, f"{requirement}: constraints.txt pins {pins.get(_normalized(name))}"
    assert "apache-airflow-providers-celery" in pins
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"pip install .*-c constraints\.txt", makefile)
    installed = {_normalized(d.metadata["Name"]): d.version for d in metadata.distributions()}
    wrong = {name: (version, installed[name]) for name, version in pins.items()
             if name in installed and installed[name] != version}
    assert not wrong, f"pinned vs installed: {wrong} (run `make install`)"
    assert not [name for name in pins if name not in installed], "pinned but not installed"


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


def generated_env(tmp_path: Path) -> Path:
    """.env.example with every secret generated, as docs/deployment.md says."""
    lines = []
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        key = line.split("=", 1)[0]
        lines.append(f"{key}={secrets.token_hex(32)}" if key in SECRETS else line)
    path = tmp_path / "generated.env"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_docker_compose_validates_the_file_once_the_secrets_are_generated(tmp_path):
    result = compose_config(generated_env(tmp_path))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("secret", SECRETS)
def test_docker_compose_refuses_to_start_while_a_secret_is_empty(tmp_path, secret):
    """.env.example as shipped, or a .env with one secret left empty, starts nothing."""
    env = generated_env(tmp_path)
    env.write_text(re.sub(rf"^{secret}=.*$", f"{secret}=", env.read_text(), flags=re.M))
    result = compose_config(env)
    assert result.returncode != 0
    assert f"set {secret} in .env" in result.stderr


def test_docker_compose_refuses_the_example_env_as_shipped():
    result = compose_config(ENV_EXAMPLE)
    assert result.returncode != 0
    assert "in .env" in result.stderr
