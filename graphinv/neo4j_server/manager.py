"""Install, start, stop and inspect a local Neo4j 5.26 Community server.

The jars come from Maven Central through the machine's `mvn` (the pom next to this file pins the
versions) and are cached outside the repository, once per version. The server is started directly
with `org.neo4j.server.CommunityEntryPoint`, so the JVM flags the neo4j launcher would normally add
(heap, --add-opens) are passed here explicitly.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pydantic import Field, PositiveFloat, field_validator

from graphinv.settings.types import Port, Section

NEO4J_VERSION = "5.26.30"
BROWSER_VERSION = "5.24.0"
MIN_JAVA = 17

# Flags bin/neo4j adds on its own; without them Neo4j logs warnings and runs slower.
_JVM_FLAGS = [
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+AlwaysPreTouch",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "-Dlog4j2.disable.jmx=true",
    "-Dfile.encoding=UTF-8",
]


class LocalNeo4jError(RuntimeError):
    """A clear, user-facing reason why the local server cannot be installed or started."""


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "graphinv" / "neo4j"


def _default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "graphinv" / "neo4j"


class LocalNeo4jSettings(Section):
    """The `local_neo4j:` section: where the server lives and how big it may grow.

    The defaults fit a 2-core, 24 GiB machine that also runs collectors and simulators:
    2 GiB heap for transaction state of 10k-row batches, 2 GiB page cache for a graph of a few
    million nodes.
    """

    home: Path = Field(default_factory=_default_home)
    jar_cache: Path = Field(default_factory=_default_cache)
    bolt_port: Port = 7687
    http_port: Port = 7474
    heap: str = "2g"
    pagecache: str = "2g"
    tx_memory_max: str = "1g"
    start_timeout: PositiveFloat = 120.0

    @field_validator("home", "jar_cache", mode="after")
    @classmethod
    def _expand_user(cls, value: Path) -> Path:
        return value.expanduser()


@dataclass
class ServerStatus:
    running: bool
    pid: int | None
    bolt: str
    http: str
    version: str | None
    home: Path

    def describe(self) -> str:
        if not self.running:
            return f"stopped (home {self.home})"
        return (
            f"running, pid {self.pid}, Neo4j {self.version or '?'}, bolt {self.bolt}, "
            f"browser {self.http}/browser/ (home {self.home})"
        )


def java_major_version(java: str = "java") -> int:
    """The major version of the `java` on PATH, or an error that says what is wrong."""
    exe = shutil.which(java)
    if exe is None:
        raise LocalNeo4jError(f"Java {MIN_JAVA} or newer is needed to run Neo4j, but `java` is not on PATH.")
    out = subprocess.run([exe, "-version"], capture_output=True, text=True, check=False)
    text = out.stderr + out.stdout
    match = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not match:
        raise LocalNeo4jError(f"Could not read the Java version from `java -version`: {text.strip()[:200]}")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8" style
        major = int(match.group(2))
    return major


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still "exists"; treat it as dead.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


class LocalNeo4j:
    """One local server: its jars, its home directory (conf, data, logs) and its process."""

    def __init__(self, settings: LocalNeo4jSettings | None = None) -> None:
        self.settings = settings or LocalNeo4jSettings()

    # -- paths -------------------------------------------------------------------------------
    @property
    def lib_dir(self) -> Path:
        return self.settings.jar_cache / NEO4J_VERSION / "lib"

    @property
    def conf_dir(self) -> Path:
        return self.settings.home / "conf"

    @property
    def pid_file(self) -> Path:
        return self.settings.home / "run" / "graphinv-neo4j.pid"

    @property
    def console_log(self) -> Path:
        return self.settings.home / "logs" / "console.log"

    @property
    def bolt_uri(self) -> str:
        return f"bolt://127.0.0.1:{self.settings.bolt_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.http_port}"

    # -- install -----------------------------------------------------------------------------
    def installed(self) -> bool:
        return (self.lib_dir / ".complete").exists()

    def install(self) -> float:
        """Resolve the server and Browser jars with Maven into the cache; returns seconds spent."""
        if self.installed():
            return 0.0
        mvn = shutil.which("mvn")
        if mvn is None:
            raise LocalNeo4jError(
                "Maven (`mvn`) is needed once to fetch Neo4j's jars, but it is not on PATH. "
                "Install it (Debian: apt-get install maven) or point graphinv at another Neo4j "
                "with GRAPHINV_NEO4J_URI."
            )
        self._check_java()
        staging = self.lib_dir.with_name("lib.partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        pom = resources.files("graphinv.neo4j_server").joinpath("pom.xml")
        with resources.as_file(pom) as pom_path:
            started = time.monotonic()
            result = subprocess.run(
                [
                    mvn, "-q", "-B", "-f", str(pom_path),
                    "dependency:copy-dependencies",
                    f"-DoutputDirectory={staging}",
                    "-DincludeScope=runtime",
                ],
                capture_output=True, text=True, check=False,
            )
            spent = time.monotonic() - started
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
            raise LocalNeo4jError("Maven could not resolve Neo4j " + NEO4J_VERSION + ":\n" + "\n".join(tail))
        shutil.rmtree(self.lib_dir, ignore_errors=True)
        staging.rename(self.lib_dir)
        (self.lib_dir / ".complete").write_text(f"neo4j {NEO4J_VERSION}, browser {BROWSER_VERSION}\n")
        return spent

    def _check_java(self) -> None:
        major = java_major_version()
        if major < MIN_JAVA:
            raise LocalNeo4jError(
                f"Neo4j {NEO4J_VERSION} needs Java {MIN_JAVA} or newer; `java` on PATH is Java {major}."
            )

    # -- configuration -----------------------------------------------------------------------
    def write_config(self) -> None:
        s = self.settings
        for sub in ("conf", "data", "logs", "run", "import", "plugins"):
            (s.home / sub).mkdir(parents=True, exist_ok=True)
        lines = [
            "# Written by graphinv on every start; edit graphinv's settings instead.",
            "server.default_listen_address=127.0.0.1",
            "server.default_advertised_address=127.0.0.1",
            f"server.bolt.listen_address=127.0.0.1:{s.bolt_port}",
            f"server.bolt.advertised_address=127.0.0.1:{s.bolt_port}",
            f"server.http.listen_address=127.0.0.1:{s.http_port}",
            f"server.http.advertised_address=127.0.0.1:{s.http_port}",
            "server.https.enabled=false",
            f"server.memory.pagecache.size={s.pagecache}",
            f"db.memory.transaction.total.max={s.tx_memory_max}",
            f"server.directories.data={s.home / 'data'}",
            f"server.directories.logs={s.home / 'logs'}",
            f"server.directories.run={s.home / 'run'}",
            f"server.directories.import={s.home / 'import'}",
            f"server.directories.plugins={s.home / 'plugins'}",
            # Bound to loopback only; see README for turning authentication on.
            "dbms.security.auth_enabled=false",
            "dbms.usage_report.enabled=false",
        ]
        (self.conf_dir / "neo4j.conf").write_text("\n".join(lines) + "\n")

    # -- lifecycle ---------------------------------------------------------------------------
    def _read_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _pid_alive(pid) else None

    def status(self) -> ServerStatus:
        pid = self._read_pid()
        version = self._http_version() if pid else None
        return ServerStatus(
            running=pid is not None and version is not None,
            pid=pid, bolt=self.bolt_uri, http=self.http_url, version=version, home=self.settings.home,
        )

    def _http_version(self) -> str | None:
        try:
            with urllib.request.urlopen(self.http_url + "/", timeout=2) as resp:
                body = resp.read().decode()
        except (urllib.error.URLError, OSError, ValueError):
            return None
        match = re.search(r'"neo4j_version"\s*:\s*"([^"]+)"', body)
        return match.group(1) if match else None

    def start(self) -> ServerStatus:
        """Start the server and wait until Bolt and HTTP answer. A running server is left alone."""
        current = self.status()
        if current.running:
            return current
        if current.pid is not None:
            # A process from an earlier start is still booting or hanging: wait for it, then judge.
            return self._wait_ready(current.pid)
        self.install()
        self._check_java()
        for port in (self.settings.bolt_port, self.settings.http_port):
            if port_in_use(port):
                raise LocalNeo4jError(
                    f"Port {port} on 127.0.0.1 is taken by another process; stop it or choose other "
                    "ports (GRAPHINV_LOCAL_BOLT_PORT / GRAPHINV_LOCAL_HTTP_PORT)."
                )
        self.write_config()
        s = self.settings
        cmd = [
            shutil.which("java") or "java",
            f"-Xms{s.heap}", f"-Xmx{s.heap}",
            *_JVM_FLAGS,
            f"-Dneo4j.home={s.home}",
            "-cp", f"{self.conf_dir}/*:{self.lib_dir}/*",
            "org.neo4j.server.CommunityEntryPoint",
            f"--home-dir={s.home}", f"--config-dir={self.conf_dir}", "--console-mode",
        ]
        log = self.console_log.open("ab")
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=s.home, start_new_session=True,
        )
        log.close()
        self.pid_file.write_text(f"{proc.pid}\n")
        return self._wait_ready(proc.pid)

    def _wait_ready(self, pid: int) -> ServerStatus:
        deadline = time.monotonic() + self.settings.start_timeout
        while time.monotonic() < deadline:
            if not _pid_alive(pid):
                self.pid_file.unlink(missing_ok=True)
                raise LocalNeo4jError("Neo4j exited during start-up:\n" + self._log_tail())
            if port_in_use(self.settings.bolt_port) and self._http_version():
                return self.status()
            time.sleep(0.25)
        raise LocalNeo4jError(
            f"Neo4j did not answer on {self.bolt_uri} within {self.settings.start_timeout:.0f} s:\n"
            + self._log_tail()
        )

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.console_log.read_text(errors="replace")
        except FileNotFoundError:
            return "(no console log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 60.0) -> bool:
        """SIGTERM and wait; SIGKILL only if the server ignores it. Returns False if it was not running."""
        pid = self._read_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if not _pid_alive(pid):
                break
            time.sleep(0.2)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True
