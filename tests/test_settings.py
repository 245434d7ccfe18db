"""The one configuration tree: loading, environment overrides, errors, `graphinv config`, shipped docs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from graphinv.redact import redact, register_secret
from graphinv.settings import Settings, load_settings, settings_from_mapping
from graphinv.settings.envtable import markdown, overrides
from graphinv.settings.types import ConfigError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "deploy" / "config.example.yaml"


def graphinv(*args: str, env: dict[str, str] | None = None,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHINV_")}
    return subprocess.run([sys.executable, "-m", "graphinv", *args], env={**clean, **(env or {})}, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


# -- the override table ---------------------------------------------------------------------------
def test_committed_override_table_is_current() -> None:
    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert committed == markdown(), "regenerate: python -m graphinv.settings.envtable > docs/configuration.md"


def test_every_override_variable_names_one_key() -> None:
    table = overrides()
    by_variable: dict[str, set[str]] = {}
    for override in table:
        by_variable.setdefault(override.variable, set()).add(override.key)
    assert {v: keys for v, keys in by_variable.items() if len(keys) > 1} == {}
    names = {o.variable for o in table}
    # The names that existed before the typed tree keep working.
    assert {"GRAPHINV_NEO4J_URI", "GRAPHINV_NEO4J_USER", "GRAPHINV_NEO4J_PASSWORD", "GRAPHINV_NEO4J_DATABASE",
            "GRAPHINV_LOCAL_HOME", "GRAPHINV_LOCAL_BOLT_PORT", "GRAPHINV_LOCAL_HTTP_PORT", "GRAPHINV_LOCAL_HEAP",
            "GRAPHINV_LOCAL_PAGECACHE"} <= names
    assert "GRAPHINV_CONFIG" not in names  # that one names the file


def test_environment_overrides_the_file_and_is_validated_like_it(tmp_path: Path) -> None:
    config = tmp_path / "graphinv.yaml"
    config.write_text("scheduler:\n  metrics: {port: 9100}\norphans:\n  max_staleness: 6h\n")
    env = {"GRAPHINV_SCHEDULER_METRICS_PORT": "9200", "GRAPHINV_ORPHANS_MAX_STALENESS": "1d12h",
           "GRAPHINV_LOCAL_BOLT_PORT": "7999", "GRAPHINV_API_TOKEN": "from-the-environment",
           "GRAPHINV_SCHEDULER_RUN_AT_START": "false", "GRAPHINV_NEO4J_USER": ""}  # empty: unset
    settings = load_settings(config, env=env)
    assert settings.scheduler.metrics.port == 9200 and settings.scheduler.run_at_start is False
    assert settings.orphans.max_staleness == timedelta(hours=36)
    assert settings.local_neo4j.bolt_port == 7999
    assert settings.neo4j.uri == "bolt://127.0.0.1:7999" and settings.uses_local_server  # nobody named a server
    assert settings.neo4j.user == "neo4j"
    assert settings.api.bearer_token() == "from-the-environment"
    assert load_settings(config, env={"GRAPHINV_LOCAL_NEO4J_BOLT_PORT": "7998"}).local_neo4j.bolt_port == 7998
    with pytest.raises(ConfigError) as bad:
        load_settings(config, env={"GRAPHINV_SCHEDULER_METRICS_PORT": "ninety"})
    assert "scheduler.metrics.port (from GRAPHINV_SCHEDULER_METRICS_PORT)" in str(bad.value)


# -- errors ---------------------------------------------------------------------------------------
def test_errors_name_the_key_path_one_line_each() -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_mapping({
            "scheduler": {"interval": "soon",
                          "collect": {"aws": {"kinds": {"Disk": {"interval": "4h", "cron": "0 * * * *"}}}}},
            "api": {"max_depth": 0, "tokn": "x"},
            "orphans": {"max_staleness": "6 hours"},
        })
    lines = str(info.value).splitlines()
    assert any(line.startswith("scheduler.interval: ") for line in lines), lines
    assert any(line.startswith("scheduler.collect.aws.kinds.Disk: give exactly one") for line in lines), lines
    assert any(line.startswith("api.max_depth: ") for line in lines), lines
    assert any(line.startswith("api.tokn: unknown key; known: host, port") for line in lines), lines
    assert any(line.startswith("orphans.max_staleness: ") for line in lines), lines
    assert len(lines) == 5, lines


def test_scheduling_a_source_without_a_section_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"scheduler.collect names source.* without a `sources:` section: aws"):
        settings_from_mapping({"scheduler": {"collect": {"aws": {"interval": "1h"}}}})
    # Switched off, it is fine (the file may be shared by several deployments).
    assert settings_from_mapping({"scheduler": {"collect": {"aws": False}}}).scheduler_settings().jobs == ()

def test_time_zone_and_cron_are_checked_when_given() -> None:
    """The scheduler's time zone and cron expressions are checked at load (APScheduler itself loads only then:
    the default zone, UTC, needs no check)."""
    with pytest.raises(ConfigError, match=r"scheduler.timezone: .*'Mars/Olympus' is not a known time zone"):
        settings_from_mapping({"scheduler": {"timezone": "Mars/Olympus"}})
    with pytest.raises(ConfigError, match=r"is not a 5-field cron expression"):
        settings_from_mapping({"sources": {"aws": {"accounts": [{"id": "1", "regions": ["eu-west-1"]}]}},
                               "scheduler": {"collect": {"aws": {"cron": "every tuesday"}}}})
    zone = settings_from_mapping({"scheduler": {"timezone": "Europe/Berlin"}}).scheduler_settings().timezone
    assert zone == "Europe/Berlin"



@pytest.mark.parametrize("raw", [
    {"neo4j": {"password": ["hunter2-secret-value"]}},
    {"api": {"token": {"nested": "hunter2-secret-value"}}},
    {"api": {"token": "hunter2-secret-value", "token_file": "/etc/x"}},
    {"alerts": {"sinks": [{"type": "webhook", "url": "hunter2-secret-value"}]}},
    {"alerts": {"sinks": [{"type": "webhook", "url": "https://x.invalid/hunter2-secret-value",
                           "headers": {"Authorization": 12345678}, "timeout": "never"}]}},
    {"sources": {"aws": {"accounts": [{"id": "111111111111", "credentials": {
        "access_key_id": "AKIAEXAMPLE", "secret_access_key": ["hunter2-secret-value"]}}]}}},
], ids=["neo4j-password", "api-token", "token-twice", "sink-url", "sink-headers", "aws-key"])
def test_errors_never_print_a_secret(raw: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_mapping(raw, env={})
    assert "hunter2" not in str(info.value)
    assert re.match(r"^[a-z_0-9]+[.\[:]", str(info.value)), str(info.value)


# -- graphinv config check / show -----------------------------------------------------------------
def test_config_check_exit_codes(tmp_path: Path) -> None:
    valid = graphinv("config", "check", "-c", str(EXAMPLE))
    assert valid.returncode == 0, valid.stderr
    assert "valid" in valid.stdout
    broken = tmp_path / "broken.yaml"
    broken.write_text("scheduler:\n  interval: 1h\n  http: {port: 9100}\nalerts:\n  sinks: [{type: pager}]\n")
    refused = graphinv("-c", str(broken), "config", "check")
    assert refused.returncode == 2
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2, refused.stderr
    assert "scheduler.http: unknown key" in errors[0] and "alerts.sinks[0].type" in errors[1]
    missing = graphinv("config", "check", "-c", str(tmp_path / "nope.yaml"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_config_show_prints_the_effective_config_with_secrets_masked(tmp_path: Path) -> None:
    config = tmp_path / "graphinv.yaml"
    config.write_text("api:\n  token: inline-token-abcdef\nsources:\n  gcp: {projects: [p1]}\n")
    shown = graphinv("config", "show", env={"GRAPHINV_NEO4J_PASSWORD": "neo4j-password-123456",
                                            "GRAPHINV_SCHEDULER_JITTER": "90s"}, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "neo4j-password-123456" not in shown.stdout and "inline-token-abcdef" not in shown.stdout
    effective = yaml.safe_load(shown.stdout)
    assert effective["neo4j"]["password"] == effective["api"]["token"] == "**********"
    assert effective["scheduler"]["jitter"] == "1m30s"
    assert effective["sources"]["gcp"]["projects"] == ["p1"]
    # What it prints is a configuration graphinv reads back the same (secrets aside).
    effective["neo4j"]["password"] = effective["api"]["token"] = None
    again = settings_from_mapping(effective, resolve=False)
    assert again.scheduler.jitter == timedelta(seconds=90) and again.configured_sources == ["gcp"]


# -- every config in the README and docs/ -----------------------------------------------------------
def _config_blocks() -> list[tuple[str, dict[str, Any]]]:
    known = set(Settings.model_fields)
    blocks = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = path.read_text()
        for match in re.finditer(r"```ya?ml\n(.*?)```", text, re.S):
            doc = yaml.safe_load(match.group(1))
            # Landscape files, IAM roles and Ansible snippets are YAML too, but not graphinv configs.
            if isinstance(doc, dict) and set(doc) & known:
                line = text[: match.start()].count("\n") + 1
                blocks.append((f"{path.relative_to(ROOT)}:{line}", doc))
    return blocks


BLOCKS = _config_blocks()


def _env_names(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {str(v) for k, v in node.items() if str(k).endswith("_env") and isinstance(v, str)}
        found |= {str(v) for k, v in node.items() if str(k) == "headers_env" for v in v.values()}
        return found | {n for v in node.values() for n in _env_names(v)}
    if isinstance(node, list):
        return {n for v in node for n in _env_names(v)}
    return set()


def test_the_docs_have_config_blocks() -> None:
    where = {label.split(":")[0] for label, _ in BLOCKS}
    assert {"README.md", "docs/scheduler.md", "docs/graphql.md"} <= where, where


@pytest.mark.parametrize(("label", "doc"), BLOCKS, ids=[label for label, _ in BLOCKS])
def test_every_documented_config_loads(label: str, doc: dict[str, Any]) -> None:
    # A snippet shows one section; the sources it schedules are those of the shipped example.
    if "sources" not in doc:
        doc = {**doc, "sources": yaml.safe_load(EXAMPLE.read_text())["sources"]}
    env = {name: "https://hooks.example.invalid/documented" for name in _env_names(doc)}
    # Files a snippet names (/etc/graphinv/...) are the operator's: checked for shape, not read.
    settings = settings_from_mapping(doc, env=env, resolve=False)
    settings.scheduler_settings()


# -- redaction ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("shoot--auth3--prod: 403", "shoot--auth3--prod: 403"),
    ("shoot--auth--prod: 403 Forbidden", "shoot--auth--prod: 403 Forbidden"),
    ("password=hunter2", "password=***"),
    ("db_password: xyz", "db_password: ***"),
    ('{"clientSecret": "abc"}', '{"clientSecret": "***"}'),
    ("x-auth-token: abc123", "x-auth-token: ***"),
    ("auth: foo", "auth: ***"),
    ("https://user:pw@host/x", "https://***:***@host/x"),
    ("AKIAABCDEFGHIJKLMNOP used", "*** used"),
    ("Unauthorized: 401 GET https://compute.example/x", "Unauthorized: 401 GET https://compute.example/x"),
    ("authorized: yes", "authorized: yes"),
    ("authorization: abc123", "authorization: ***"),
    ("authToken: abc123", "authToken: ***"),
])
def test_redact_masks_credentials_and_leaves_names_alone(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_registered_secrets_are_masked_everywhere_redact_runs() -> None:
    register_secret("https://hooks.example.invalid/T0/B0/registered-in-test-77")
    assert redact("POST https://hooks.example.invalid/T0/B0/registered-in-test-77 failed") == "POST *** failed"
    register_secret("abc")  # too short to register: it would mask ordinary words
    assert redact("abc def") == "abc def"
