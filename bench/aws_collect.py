"""Benchmarks of the AWS simulator and collector (not a test: numbers, no assertions).

    .venv/bin/python bench/aws_collect.py compare --instances 2000
        seeding + listing ~2,000 instances with the moto engine vs the native responder
    .venv/bin/python bench/aws_collect.py scale --instances 20000 --concurrency 1 8
        collection throughput and peak RSS of the collector against the native engine, with 1 and
        with 8 scopes read at the same time

In `scale`, the simulator runs in its own process and each collector run in a fresh process, so
each peak RSS (ru_maxrss) is the collector's alone. Records are counted and dropped as they stream,
as the ingest engine would hand them on, so the RSS shows what reading costs, not storing.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collectors.aws import plan  # noqa: E402
from collectors.scope import ScopeTask  # noqa: E402
from graphinv.sim.aws import AwsSim  # noqa: E402
from graphinv.sim.landscape import Landscape, parse_landscape  # noqa: E402


def landscape(instances: int, accounts: int, regions: int, seed: int = 1) -> Landscape:
    """`instances` VMs spread over accounts x regions; every 2nd has a data disk, every 4th its own
    public IP; one free disk per 10 VMs; one Elastic IP per 20 VMs, half of them attached."""
    region_names = ["eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-southeast-1", "eu-north-1",
                    "eu-west-2", "us-east-2"][:regions]
    per_region = instances // (accounts * regions)
    accts = []
    n = 0
    for a in range(accounts):
        regs = []
        for name in region_names:
            zones = [f"{name}{z}" for z in "abc"]
            vms, disks, ips = [], [], []
            for i in range(per_region):
                key = f"a{a}-{name}-vm{i}"
                vms.append({
                    "key": key, "name": f"shoot--p{a}--s{i % 40}-worker-z{i % 3 + 1}-{n:05x}-{i:05x}",
                    "shoot": f"p{a}/s{i % 40}", "zone": zones[i % 3], "public_ip": i % 4 == 0,
                    "disks": [{"key": f"{key}-data", "size_gb": 10 + i % 90}] if i % 2 == 0 else [],
                })
                if i % 10 == 0:
                    disks.append({"key": f"{key}-free", "size_gb": 5, "shoot": f"p{a}/s{i % 40}"})
                if i % 20 == 0:
                    ips.append({"key": f"{key}-eip", "attached_to": key if i % 40 == 0 else None})
                n += 1
            regs.append({"name": name, "zones": zones, "instances": vms, "disks": disks, "ips": ips})
        accts.append({"provider": "aws", "id": f"{100000000000 + a * 111111111:012d}", "regions": regs})
    return parse_landscape({"name": "aws-bench", "seed": seed, "accounts": accts})


def drain(tasks: list[ScopeTask], concurrency: int) -> tuple[Counter[str], int]:
    labels: Counter[str] = Counter()
    failures = 0

    def one(task: ScopeTask) -> Counter[str]:
        counted: Counter[str] = Counter()
        for record in task.fetch():
            counted[record.label] += 1
        return counted

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(one, t) for t in tasks]:
            try:
                labels.update(future.result())
            except Exception:
                failures += 1
    return labels, failures


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# -- compare: moto vs native ---------------------------------------------------------------------
def compare(args: argparse.Namespace) -> None:
    land = landscape(args.instances, accounts=1, regions=1)
    volumes = sum(1 + len(i.disks) for _, _, i in land.instances()) + sum(
        len(r.disks) for a in land.accounts for r in a.regions)
    print(f"landscape: {args.instances} instances, {volumes} volumes, 1 account, 1 region")
    for engine in args.engines:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            sim = AwsSim(land, Path(tmp), engine=engine)  # resolves the landscape into EC2 objects
            sim.start()  # moto: start the process and seed it through boto3
            seeded = time.perf_counter() - started
            try:
                timings = {}
                tasks = plan(sim.source_config())
                for task in tasks:
                    begin = time.perf_counter()
                    count = sum(1 for _ in task.fetch())
                    timings[task.scope.kind] = (time.perf_counter() - begin, count)
            finally:
                sim.stop()
        listing = sum(t for t, _ in timings.values())
        detail = ", ".join(f"{kind} {t:.1f} s ({n} records)" for kind, (t, n) in timings.items())
        print(f"{engine:>6}: start+seed {seeded:6.1f} s | listing {listing:6.1f} s: {detail}")


# -- scale: native engine, collector in its own process -------------------------------------------
def serve(args: argparse.Namespace) -> None:
    land = landscape(args.instances, args.accounts, args.regions)
    with tempfile.TemporaryDirectory() as tmp, AwsSim(land, Path(tmp)) as sim:
        print(json.dumps({"config": sim.source_config(), "rss_mib": peak_rss_mib()}), flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin


def collect(args: argparse.Namespace) -> None:
    config = json.loads(Path(args.config).read_text())
    begin = time.perf_counter()
    tasks = plan(config)
    labels, failures = drain(tasks, args.concurrency)
    elapsed = time.perf_counter() - begin
    print(json.dumps({"seconds": elapsed, "records": dict(labels), "scopes": len(tasks), "failed": failures,
                      "peak_rss_mib": peak_rss_mib()}))


def scale(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", "--instances", str(args.instances), "--accounts", str(args.accounts),
         "--regions", str(args.regions)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None and server.stdin is not None
    hello = json.loads(server.stdout.readline())
    print(f"native simulator: {args.instances} instances in {args.accounts} accounts x {args.regions} regions, "
          f"built in {time.perf_counter() - started:.1f} s, server RSS {hello['rss_mib']:.0f} MiB")
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".json") as cfg:
            json.dump(hello["config"], cfg)
            cfg.flush()
            for concurrency in args.concurrency:
                out = subprocess.run([sys.executable, __file__, "collect", "--config", cfg.name,
                                      "--concurrency", str(concurrency)], capture_output=True, text=True,
                                     check=True)
                result = json.loads(out.stdout.strip().splitlines()[-1])
                total = sum(result["records"].values())
                print(f"concurrency {concurrency}: {result['scopes']} scopes, {total} records "
                      f"{result['records']} in {result['seconds']:.1f} s = {total / result['seconds']:.0f} "
                      f"records/s, failed scopes {result['failed']}, collector peak RSS "
                      f"{result['peak_rss_mib']:.0f} MiB")
    finally:
        server.stdin.close()
        server.wait(timeout=30)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("compare")
    p.add_argument("--instances", type=int, default=2000)
    p.add_argument("--engines", nargs="+", default=["native", "moto"])
    p.set_defaults(run=compare)
    for name, run in (("scale", scale), ("serve", serve)):
        p = sub.add_parser(name)
        p.add_argument("--instances", type=int, default=20000)
        p.add_argument("--accounts", type=int, default=4)
        p.add_argument("--regions", type=int, default=5)
        p.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
        p.set_defaults(run=run)
    p = sub.add_parser("collect")
    p.add_argument("--config", required=True)
    p.add_argument("--concurrency", type=int, default=1)
    p.set_defaults(run=collect)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
