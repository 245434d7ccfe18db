"""`graphinv sim serve --gcp-service-account`, run as a user runs it: the served GCP simulator requires
its service account's credentials, and the key file it writes works with the real google-cloud-compute."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import httpx
import yaml
from google.api_core.client_options import ClientOptions
from google.cloud import compute_v1
from google.oauth2 import service_account

from graphinv.sim.landscape import dump_landscape, parse_landscape
from tests.support.gcp_landscapes import PROJECT, landscape_data
from tests.support.processes import graphinv_command, start_process, stop_process, wait_until
from tests.support.watching import aws_landscape

VM = "shoot--dev--app-worker-z1-aaaaa-bbbbb"  # in PROJECT, the region's first zone
ZONE = "europe-west1-b"


def test_sim_serve_writes_a_service_account_key_the_gcp_sdk_reads_a_vm_with(tmp_path: Path) -> None:
    data = landscape_data()
    data["accounts"] = [a for a in data["accounts"] if a["id"] == PROJECT]  # one GCP project, nothing else
    landscape = tmp_path / "landscape.yaml"
    landscape.write_text(dump_landscape(parse_landscape(data)))
    config_file = tmp_path / "sim.yaml"
    server = start_process("sim-serve", graphinv_command("sim", "serve", str(landscape), "--gcp-service-account",
                                                         "--write-config", str(config_file),
                                                         "--workdir", str(tmp_path / "sim")), tmp_path / "logs")
    try:
        wait_until(lambda: "serving" in server.output(), 120, "the simulator to serve", [server])
        gcp = yaml.safe_load(config_file.read_text())["sources"]["gcp"]
        key_file = Path(gcp["credentials"])
        assert str(key_file) in server.output()  # printed for people too
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        options = ClientOptions(api_endpoint=gcp["api_endpoint"])

        credentials = service_account.Credentials.from_service_account_file(str(key_file))
        vm = compute_v1.InstancesClient(credentials=credentials, transport="rest", client_options=options).get(
            project=PROJECT, zone=ZONE, instance=VM)
        assert vm.name == VM and vm.zone.endswith(f"/zones/{ZONE}")

        # The option really turned authentication on: the same read without credentials is refused.
        anonymous = httpx.get(f"{gcp['api_endpoint']}/compute/v1/projects/{PROJECT}/zones/{ZONE}/instances/{VM}")
        assert anonymous.status_code == 401, anonymous.text
    finally:
        assert stop_process(server) == 0, server.describe()


def test_sim_serve_gcp_service_account_without_gcp_accounts_is_a_one_line_error(tmp_path: Path) -> None:
    landscape = tmp_path / "aws-only.yaml"
    landscape.write_text(dump_landscape(aws_landscape(seeds=1)))
    done = subprocess.run(graphinv_command("sim", "serve", str(landscape), "--gcp-service-account"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "--gcp-service-account" in done.stderr and "no gcp accounts" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
