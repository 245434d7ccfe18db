"""The Ansible dynamic inventory, read by the real ansible-core over a collected simulated landscape.

Expected groups and hosts are computed here from the graph with Cypher of the test's own and from
the orphan report (the inventory's finding groups must equal `graphinv orphans`), never typed in.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from graphinv.config import Neo4jConnection
from graphinv.db import Graph
from graphinv.orphans import OrphanFilter, orphan_report, unowned_report
from graphinv.ports import free_port
from tests.support.graph import wipe
from tests.support.inventory_landscapes import clean_env, collect_simulated, write_config

REPO = Path(__file__).resolve().parents[1]
WRAPPER = REPO / "deploy" / "ansible" / "graphinv-inventory"
ANSIBLE_CFG = REPO / "deploy" / "ansible" / "ansible.cfg"
PLAYBOOK = REPO / "deploy" / "ansible" / "examples" / "orphans.yml"
BIN = REPO / ".venv" / "bin"
TIMEOUT = 300


def ansible_tool(name: str) -> str:
    path = BIN / name if (BIN / name).exists() else shutil.which(name)
    if not path:
        pytest.skip(f"{name} not installed (ansible-core is a dev dependency: pip install -e '.[dev]')")
    return str(path)


@pytest.fixture(scope="module")
def collected(session_graph: Graph, tmp_path_factory: pytest.TempPathFactory) -> Graph:
    wipe(session_graph)
    collect_simulated(session_graph, tmp_path_factory.mktemp("sim"))
    return session_graph


@pytest.fixture(scope="module")
def env(neo4j_connection: Neo4jConnection, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    config = write_config(tmp_path_factory.mktemp("cfg") / "graphinv.yaml", neo4j_connection)
    return clean_env(dict(os.environ), GRAPHINV_CONFIG=str(config), GRAPHINV=str(BIN / "graphinv"),
                     ANSIBLE_CONFIG=str(ANSIBLE_CFG), ANSIBLE_LOCAL_TEMP=str(config.parent / "ansible-tmp"),
                     ANSIBLE_HOME=str(config.parent / "ansible-home"), LC_ALL="C.UTF-8", LANG="C.UTF-8")


def run(args: list[str], env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=TIMEOUT, check=False)


# -- the expectation, from the graph by the test's own Cypher -----------------------------------------
def safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def live_vms(graph: Graph) -> list[dict[str, Any]]:
    return graph.run_read("""
        MATCH (i:Instance) WHERE NOT i.status IN ['terminated', 'shutting-down'] AND i.state <> 'terminated'
        OPTIONAL MATCH (s:Shoot)-[:OWNS_VM]->(i)
        RETURN i.uid AS uid, i.name AS name, i.provider AS provider, i.account_id AS account,
               i.region AS region, i.zone AS zone, i.instance_type AS type, i.cluster AS cluster,
               i.private_ip AS private_ip, s.seed_name AS seed, s.workers AS workers""")


def host_names(vms: list[dict[str, Any]]) -> dict[str, str]:
    """uid -> host name: the VM name; a twin's name with its account, or its uid within one account."""
    by_name = Counter(v["name"] for v in vms)
    by_account = Counter((v["name"], v["account"]) for v in vms)
    names = {}
    for v in vms:
        if v["name"] is None:
            names[v["uid"]] = v["uid"]
        elif by_account[(v["name"], v["account"])] > 1:
            names[v["uid"]] = f"{v['name']}@{v['uid']}"
        elif by_name[v["name"]] > 1:
            names[v["uid"]] = f"{v['name']}@{v['account']}"
        else:
            names[v["uid"]] = v["name"]
    return names


def expected_groups(graph: Graph) -> dict[str, set[str]]:
    """Group -> every host in it (through children too)."""
    vms = live_vms(graph)
    names = host_names(vms)
    groups: dict[str, set[str]] = {"orphans": set(), "unverified": set(), "unowned": set()}
    for v in vms:
        host = names[v["uid"]]
        wanted = [f"provider_{v['provider']}", f"account_{v['provider']}_{v['account']}", f"region_{v['region']}",
                  f"zone_{v['zone']}", f"type_{v['type']}"]
        if v["cluster"]:
            wanted.append(v["cluster"])
            project = v["cluster"].split("--")[1]
            wanted.append(f"project_{project}")
            if v["seed"]:
                wanted.append(f"seed_{v['seed']}")
            for worker in v["workers"] or []:
                pool = worker.split(":")[0]
                if v["name"].startswith(f"{v['cluster']}-{pool}-"):
                    wanted.append(f"pool_{pool}")
        for group in wanted:
            groups.setdefault(safe(group), set()).add(host)
    by_uid = {v["uid"]: names[v["uid"]] for v in vms}
    for row in orphan_report(graph, OrphanFilter(kind="instance")):
        groups["orphans" if row["verdict"] == "orphan" else "unverified"].add(by_uid[row["uid"]])
    for row in unowned_report(graph, OrphanFilter(kind="instance")):
        groups["unowned"].add(by_uid[row["uid"]])
    return groups


def resolved(listing: dict[str, Any]) -> dict[str, set[str]]:
    """Group -> every host in it, through children, from an inventory document."""
    def hosts(group: str) -> set[str]:
        entry = listing.get(group, {})
        found = set(entry.get("hosts", []))
        for child in entry.get("children", []):
            found |= hosts(child)
        return found
    return {g: hosts(g) for g in listing if g not in ("_meta", "all", "ungrouped")}


def graph_tree(text: str) -> dict[str, set[str]]:
    """Group -> every host under it, from `ansible-inventory --graph` (|--@group: and |--host lines)."""
    stack: list[tuple[int, str]] = []
    groups: dict[str, set[str]] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        depth = line.find("|--")
        item = line[depth + 3:] if depth >= 0 else line.strip()
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if item.startswith("@"):
            name = item[1:].removesuffix(":")
            groups.setdefault(name, set())
            stack.append((depth, name))
        else:
            for _, group in stack:
                groups[group].add(item)
    return {g: h for g, h in groups.items() if g not in ("all", "ungrouped")}


# -- the tests --------------------------------------------------------------------------------------
def test_list_and_graph_equal_the_graph(collected: Graph, env: dict[str, str]) -> None:
    expected = expected_groups(collected)
    assert expected["orphans"] and expected["unowned"], "the simulated landscape should plant both"
    listed = run([ansible_tool("ansible-inventory"), "-i", str(WRAPPER), "--list"], env)
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    got = resolved(document)
    assert {g: h for g, h in got.items() if h or g in expected} == expected
    hostvars = document["_meta"]["hostvars"]
    assert set(hostvars) == set().union(*expected.values())
    vms = {v["uid"]: v for v in live_vms(collected)}
    for host, variables in hostvars.items():
        vm = vms[variables["uid"]]
        assert variables["ansible_host"] == vm["private_ip"], host
        assert (variables["provider"], variables["account"], variables["region"]) == (
            vm["provider"], vm["account"], vm["region"])
        assert variables["orphan_verdict"] in ("orphan", "unverified", "unowned", "none")
        assert (variables["orphan_verdict"] == "orphan") == (host in expected["orphans"])

    tree = run([ansible_tool("ansible-inventory"), "-i", str(WRAPPER), "--graph"], env)
    assert tree.returncode == 0, tree.stderr
    assert {g: h for g, h in graph_tree(tree.stdout).items() if h} == {g: h for g, h in expected.items() if h}


def test_list_hosts_of_a_shoot_pattern(collected: Graph, env: dict[str, str]) -> None:
    expected = expected_groups(collected)
    shoots = sorted(g for g in expected if g.startswith("shoot__"))
    assert len(shoots) >= 3
    for shoot in shoots[:3]:
        done = run([ansible_tool("ansible"), "-i", str(WRAPPER), shoot, "--list-hosts"], env)
        assert done.returncode == 0, done.stderr
        listed = {line.strip() for line in done.stdout.splitlines()[1:] if line.strip()}
        assert listed == expected[shoot], shoot


def test_host_and_filters(collected: Graph, env: dict[str, str]) -> None:
    graphinv = [str(BIN / "graphinv"), "ansible-inventory"]
    full = json.loads(run([*graphinv, "--list"], env).stdout)
    host, variables = next(iter(full["_meta"]["hostvars"].items()))
    one = run([*graphinv, "--host", host], env)
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout) == variables
    assert json.loads(run([*graphinv, "--host", "no-such-vm"], env).stdout) == {}

    expected = expected_groups(collected)
    orphans = json.loads(run([*graphinv, "--list", "--orphans-only"], env).stdout)
    assert set(orphans["_meta"]["hostvars"]) == expected["orphans"]
    aws = json.loads(run([*graphinv, "--list", "--provider", "aws"], env).stdout)
    assert set(aws["_meta"]["hostvars"]) == expected["provider_aws"]
    project = next(g for g in sorted(expected) if g.startswith("project_"))
    by_project = json.loads(run([*graphinv, "--list", "--project", project.removeprefix("project_")], env).stdout)
    assert set(by_project["_meta"]["hostvars"]) == expected[project]
    shoot = next(g for g in sorted(expected) if g.startswith("shoot__"))
    technical_id = next(v["shoot"] for v in full["_meta"]["hostvars"].values() if v["shoot"]
                        and safe(v["shoot"]) == shoot)
    by_shoot = json.loads(run([*graphinv, "--list", "--shoot", technical_id], env).stdout)
    assert set(by_shoot["_meta"]["hostvars"]) == expected[shoot]
    public = json.loads(run([*graphinv, "--list", "--public"], env).stdout)
    for variables in public["_meta"]["hostvars"].values():
        assert variables.get("ansible_host") == variables["public_ip"] or (
            variables["public_ip"] is None and "ansible_host" not in variables)

    bad = run([*graphinv, "--list", "--provider", "nimbus"], env)
    assert bad.returncode != 0 and not bad.stdout and "--provider" in bad.stderr


def test_unreachable_neo4j_is_a_clear_error(tmp_path: Path, env: dict[str, str]) -> None:
    dead = write_config(tmp_path / "graphinv.yaml", Neo4jConnection(uri=f"bolt://127.0.0.1:{free_port()}"))
    broken = {**env, "GRAPHINV_CONFIG": str(dead)}
    direct = run([str(WRAPPER), "--list"], broken)
    assert direct.returncode != 0
    assert direct.stdout == ""
    assert "not reachable" in direct.stderr
    inventory = run([ansible_tool("ansible-inventory"), "-i", str(WRAPPER), "--list"], broken)
    assert inventory.returncode != 0
    assert "not reachable" in inventory.stderr
    assert inventory.stdout.strip() == ""


def test_documented_commands_and_playbook_run(collected: Graph, env: dict[str, str]) -> None:
    """Every `ansible...` line in docs/ansible.md's shell blocks runs, as written, from the repo root."""
    doc = (REPO / "docs" / "ansible.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", doc, re.S)
    commands = [line for block in blocks for line in block.splitlines() if line.startswith("ansible")]
    assert len(commands) >= 4, commands
    ansible_bin = {"ansible", "ansible-inventory", "ansible-playbook"}
    ran_playbook = False
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] in ansible_bin, command
        done = run([ansible_tool(argv[0]), *argv[1:]], env)
        assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
        if argv[0] == "ansible-playbook":
            ran_playbook = True
            for host in expected_groups(collected)["orphans"]:
                assert host in done.stdout, (host, done.stdout[-3000:])
    assert ran_playbook
