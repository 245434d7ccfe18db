"""The production topology, here: `graphinv sim serve` stands in for Gardener and the clouds, and the
scheduler and the API run as separate processes with exactly the commands of docker-compose.yaml and
the Kubernetes Deployments, on the shipped deploy/config.example.yaml.

How the shipped config is pointed at this machine (what an operator's overlay would change):
- environment overrides, as compose and Kubernetes set them: GRAPHINV_CONFIG, GRAPHINV_NEO4J_URI
  (the test's Neo4j), GRAPHINV_API_TOKEN, GRAPHINV_SCHEDULER_METRICS_PORT/HOST (a free port on
  127.0.0.1 instead of 9100 on every address), GRAPHINV_SCHEDULER_RETRY_BACKOFF (2s instead of 1m:
  the simulator plants a seed that refuses to list machines, and its retries should not hold the
  cycle for minutes);
- a small derived copy of the file for what no variable can carry: `sources` replaced by the
  simulator's written config, and one webhook sink (its URL from an environment variable) added to
  `alerts.sinks`. Every other key is the shipped file's.
The API's `--port` is a free port instead of 8000 (the only change to the command line).
"""

from __future__ import annotations

import json
import secrets
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from graphinv.config import Neo4jConnection, load_config
from graphinv.db import Graph
from graphinv.ports import free_port
from tests.support.processes import (
    Process,
    graphinv_command,
    start_process,
    stop_process,
    wait_for_http,
    wait_for_output,
    wait_until,
)
from tests.support.webhooks import Receiver

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "deploy" / "config.example.yaml"
COMPOSE = ROOT / "docker-compose.yaml"
DEPLOYMENTS = ROOT / "deploy" / "kubernetes" / "base"
START = 300.0  # generous: the machine is shared; nothing here measures speed
CYCLE = 900.0


def shipped_commands() -> dict[str, list[str]]:
    """The graphinv arguments of the scheduler and API services; compose and Kubernetes must agree."""
    compose = yaml.safe_load(COMPOSE.read_text())["services"]
    commands = {name: compose[name]["command"] for name in ("scheduler", "api")}
    for name in commands:
        deployment = yaml.safe_load((DEPLOYMENTS / f"{name}-deployment.yaml").read_text())
        assert deployment["spec"]["template"]["spec"]["containers"][0]["args"] == commands[name], name
    return commands


def derived_config(sim_config: Path, target: Path) -> Path:
    config = yaml.safe_load(EXAMPLE.read_text())
    config["sources"] = yaml.safe_load(sim_config.read_text())["sources"]
    config["alerts"]["sinks"].append({"type": "webhook", "name": "ops", "url_env": "GRAPHINV_TOPOLOGY_WEBHOOK"})
    target.write_text(yaml.safe_dump(config, sort_keys=False))
    target.chmod(0o600)
    return target


def with_port(command: list[str], port: int) -> list[str]:
    assert "--port" in command, command
    at = command.index("--port") + 1
    return [*command[:at], str(port), *command[at + 1:]]


def job_lines(scheduler: Process, source: str) -> str:
    """For a failed assertion: what the scheduler logged about one source's jobs, minus its successes."""
    lines = [line for line in scheduler.log().splitlines()
             if f"source={source}" in line and " complete: " not in line]
    return f"the jobs of {source} did not complete:\n" + "\n".join(lines[-60:])


def gql(base: str, token: str, query: str) -> dict[str, Any]:
    response = httpx.post(f"{base}/graphql", json={"query": query}, timeout=120,
                          headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.slow
def test_scheduler_and_api_run_the_shipped_config_against_the_simulated_landscape(
    graph: Graph, neo4j_connection: Neo4jConnection, tmp_path: Path
) -> None:
    commands = shipped_commands()
    logs = tmp_path / "logs"
    landscape = tmp_path / "landscape.yaml"
    generated = start_process("generate", graphinv_command("sim", "generate", "--scale", "0.05", "--seed", "11",
                                                           "--out", str(landscape)), logs)
    assert generated.popen.wait(START) == 0, generated.describe()
    sim_config = tmp_path / "sim" / "graphinv-sim.yaml"
    processes: list[Process] = []
    receiver = Receiver()
    try:
        sim = start_process("sim", graphinv_command("sim", "serve", str(landscape), "--write-config", str(sim_config),
                                                    "--workdir", str(tmp_path / "sim")), logs)
        processes.append(sim)
        wait_for_output(sim, "serving", START)
        config = derived_config(sim_config, tmp_path / "config.yaml")

        token = secrets.token_urlsafe(24)
        metrics_port, api_port = free_port(), free_port()
        env = {"GRAPHINV_CONFIG": str(config), "GRAPHINV_NEO4J_URI": neo4j_connection.uri,
               "GRAPHINV_API_TOKEN": token, "GRAPHINV_SCHEDULER_METRICS_HOST": "127.0.0.1",
               "GRAPHINV_SCHEDULER_METRICS_PORT": str(metrics_port), "GRAPHINV_SCHEDULER_RETRY_BACKOFF": "2s",
               "GRAPHINV_TOPOLOGY_WEBHOOK": receiver.url}
        if neo4j_connection.auth:
            env["GRAPHINV_NEO4J_PASSWORD"] = neo4j_connection.auth[1]
        # The same configuration, as the containers would validate it.
        loaded = load_config(config, env=env)
        assert loaded.scheduler_settings().metrics.port == metrics_port and loaded.api.bearer_token() == token

        scheduler = start_process("scheduler", graphinv_command(*commands["scheduler"]), logs, env=env,
                                  cwd=tmp_path)
        api = start_process("api", graphinv_command(*with_port(commands["api"], api_port)), logs, env=env,
                            cwd=tmp_path)
        processes += [scheduler, api]
        metrics_url = f"http://127.0.0.1:{metrics_port}"
        api_url = f"http://127.0.0.1:{api_port}"
        wait_for_http(f"{metrics_url}/healthz", START, [scheduler])
        wait_for_http(f"{api_url}/readyz", START, [api])
        started = json.loads(scheduler.output().splitlines()[0])
        assert started == {"event": "started", "metrics": metrics_url}

        # One collection cycle: every source's jobs ran, and the orphan alerts after them.
        def cycle_done() -> bool:
            jobs = httpx.get(f"{metrics_url}/jobs", timeout=10).json()
            collects = [j for j in jobs if j["type"] == "collect"]
            return bool(collects) and all(j["last_status"] for j in collects) and receiver.wait_for(1, 0)

        wait_until(cycle_done, CYCLE, "one collection cycle and an alert delivery", [scheduler, api, sim])

        metrics = httpx.get(f"{metrics_url}/metrics", timeout=30).text
        for source in loaded.configured_sources:
            assert f'graphinv_job_runs_total{{job="collect:{source}",status=' in metrics, source
        # Gardener's run reports the planted refusing seed as failed; the clouds' reads are complete.
        for source in loaded.configured_sources[1:]:
            assert f'graphinv_job_runs_total{{job="collect:{source}",status="complete"' in metrics, \
                job_lines(scheduler, source)
        assert "graphinv_resources_collected_total" in metrics

        ready = httpx.get(f"{api_url}/readyz", timeout=30)
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        denied = httpx.post(f"{api_url}/graphql", json={"query": "{ orphans { uid } }"}, timeout=30)
        assert denied.status_code == 401  # 0.0.0.0 with a token: the token is required
        body = gql(api_url, token, "{ orphans { uid verdict provider kind } }")
        assert "errors" not in body, body
        orphans = [o for o in body["data"]["orphans"] if o["verdict"] == "orphan"]
        assert {o["provider"] for o in orphans} >= {"aws"}, body

        delivered = receiver.bodies[0]
        assert delivered["source"] == "graphinv" and delivered["findings"], delivered
        assert delivered["alert"] in {j["id"].split(":", 1)[1] for j in httpx.get(f"{metrics_url}/jobs").json()
                                      if j["type"] == "alert"}
        # The webhook URL carries a credential: no process logged it.
        for process in processes:
            assert receiver.url not in process.log() and token not in process.log(), process.name
    finally:
        for process in reversed(processes):
            stop_process(process)
        receiver.close()
    scheduler_code, api_code = (p.popen.returncode for p in processes[1:])
    assert scheduler_code == 0, scheduler.describe()
    # uvicorn shuts down cleanly, then re-raises the SIGTERM it caught: exit status -15 is its clean stop.
    assert api_code in (0, -signal.SIGTERM) and "Finished server process" in api.log(), api.describe()
