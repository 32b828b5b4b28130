"""A real Apache Spark standalone cluster on this machine, for the parity tests and a trial.

``workbench cluster up`` starts, as separate JVM processes bound to 127.0.0.1:

* a standalone master,
* two workers, one core and a bounded memory each,
* the Spark Connect server as the driver, with the repository's ``spark-defaults.conf``
  (Delta Lake extensions, catalog and the ``io.delta:delta-spark`` package, fetched
  from Maven Central into an Ivy cache once, then offline).

Spark itself comes from PyPI's full ``pyspark`` in its own virtual environment
(``.venv-cluster``, made by ``make cluster-deps`` from ``requirements-cluster.txt``), so it
never replaces the ``pyspark-client`` the workbench talks through. Python UDFs
(``applyInPandas``) run in the workbench's own interpreter on the executors, with the
repository on their ``PYTHONPATH``.

Process ids, ports and logs live in one state folder (``var/cluster`` by default);
``down`` stops exactly the processes it recorded.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Delta's compatibility table: Delta 4.4.x is built for Spark 4.2.x. Spark 4.2 is also the
# version of the pyspark-client that talks to Sail, so one client serves both engines.
SPARK_VERSION = "4.2.0"
DELTA_VERSION = "4.4.0"
DELTA_PACKAGE = f"io.delta:delta-spark_2.13:{DELTA_VERSION}"

CLUSTER_VENV = REPO / ".venv-cluster"
DEFAULTS_FILE = REPO / "spark-defaults.conf"
WORKERS = 2
WORKER_CORES = 1
WORKER_MEMORY = "1g"      # what each worker offers its executor
EXECUTOR_MEMORY = "1g"
DRIVER_MEMORY = "1g"      # the Spark Connect server
DAEMON_MEMORY = "256m"    # master and worker daemons themselves
HOST = "127.0.0.1"


class ClusterError(RuntimeError):
    """The cluster could not be started, found or stopped."""


def java_missing() -> str | None:
    """None when a Java runtime is available, else why not (the cluster tests' skip reason)."""
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home) / "bin" / "java" if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        return "no Java runtime (java not on PATH and JAVA_HOME unset): the Spark cluster needs Java 17"
    try:
        subprocess.run([str(java), "-version"], capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"java at {java} does not run: {exc}"
    return None


def spark_home(venv: Path | None = None) -> Path:
    """The full pyspark's install folder (its jars, ``bin/spark-submit``, the Connect server)."""
    override = os.environ.get("WORKBENCH_SPARK_HOME")
    if override:
        home = Path(override)
    else:
        venv = venv or CLUSTER_VENV
        found = sorted(venv.glob("lib/python3*/site-packages/pyspark"))
        if not found:
            raise ClusterError(
                f"no full pyspark in {venv}: run `make cluster-deps` (installs requirements-cluster.txt "
                f"into {CLUSTER_VENV.name}) or set WORKBENCH_SPARK_HOME")
        home = found[0]
    if not (home / "bin" / "spark-submit").exists():
        raise ClusterError(f"{home} has no bin/spark-submit: it is not a full pyspark (pyspark-client is not enough)")
    jar = home / "jars" / f"spark-core_2.13-{SPARK_VERSION}.jar"
    if not jar.exists():
        have = sorted(p.name for p in (home / "jars").glob("spark-core_*.jar"))
        raise ClusterError(f"{home} is not Spark {SPARK_VERSION} (found {have}); "
                           f"requirements-cluster.txt pins pyspark=={SPARK_VERSION}")
    return home


def unavailable() -> str | None:
    """None when a local cluster can start here, else why not (no Java, no full pyspark)."""
    reason = java_missing()
    if reason:
        return reason
    try:
        spark_home()
    except ClusterError as exc:
        return str(exc)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((HOST, port)) == 0


@dataclass
class ClusterState:
    """What ``up`` started: enough for ``status`` and ``down`` in another process."""

    master_port: int
    master_ui_port: int
    connect_port: int
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def master_url(self) -> str:
        return f"spark://{HOST}:{self.master_port}"

    @property
    def url(self) -> str:
        """The Spark Connect address for ``WORKBENCH_ENGINE_REMOTE``."""
        return f"sc://{HOST}:{self.connect_port}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of this process still answers kill(0); reap it
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


class Cluster:
    """One standalone cluster whose state lives in ``state_dir``."""

    def __init__(self, state_dir: str | Path | None = None, connect_port: int | None = None,
                 python: str | None = None):
        self.state_dir = Path(state_dir or os.environ.get("WORKBENCH_CLUSTER_DIR") or REPO / "var" / "cluster")
        self.connect_port = connect_port
        # the executors' Python: the workbench's own, which has pandas, scipy... and the client's pins
        self.python = python or sys.executable
        self.ivy_dir = Path(os.environ.get("WORKBENCH_IVY_DIR") or Path.home() / ".cache" / "workbench-ivy")

    # ---- state ------------------------------------------------------------------
    @property
    def _state_file(self) -> Path:
        return self.state_dir / "state.json"

    def state(self) -> ClusterState | None:
        try:
            raw = json.loads(self._state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return ClusterState(**raw)

    def _save(self, state: ClusterState) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._state_file.write_text(json.dumps(asdict(state), indent=2), encoding="utf-8")

    def log(self, name: str) -> Path:
        return self.state_dir / "logs" / f"{name}.log"

    def running(self) -> dict[str, bool]:
        state = self.state()
        return {} if state is None else {name: _alive(pid) for name, pid in state.pids.items()}

    def workers_alive(self) -> int:
        """ALIVE workers as the master sees them (its JSON status page)."""
        state = self.state()
        if state is None:
            return 0
        try:
            with urllib.request.urlopen(f"http://{HOST}:{state.master_ui_port}/json/", timeout=5) as resp:
                info = json.load(resp)
        except OSError:
            return 0
        return sum(1 for w in info.get("workers", []) if w.get("state") == "ALIVE")

    # ---- processes -------------------------------------------------------------
    def _env(self, home: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               # the client's own settings must not leak into the JVMs (SPARK_CONNECT_MODE_ENABLED
               # etc. make spark-submit refuse to start a classic driver)
               if not k.startswith(("SPARK_", "PYSPARK_", "WORKBENCH_ENGINE"))}
        env.update({
            "SPARK_HOME": str(home),
            "SPARK_LOCAL_IP": HOST,
            "SPARK_LOG_DIR": str(self.state_dir / "logs"),
            "SPARK_PID_DIR": str(self.state_dir),
            "SPARK_DAEMON_MEMORY": DAEMON_MEMORY,
            "SPARK_NO_DAEMONIZE": "1",
            "PYSPARK_PYTHON": self.python,
        })
        return env

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> int:
        log = self.log(name)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            # its own session: down() signals the whole process group, the JVM and its children
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, cwd=str(self.state_dir), start_new_session=True)
        return proc.pid

    def _wait(self, what: str, check, timeout: float, pid: int, log: Path) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if not _alive(pid):
                raise ClusterError(f"{what} exited while starting; last lines of {log}:\n{_tail(log)}")
            time.sleep(0.5)
        raise ClusterError(f"{what} not ready within {timeout:.0f} s; last lines of {log}:\n{_tail(log)}")

    def up(self, timeout: float = 600.0) -> ClusterState:
        """Start master, workers and the Connect server; return when a query answers."""
        reason = java_missing()
        if reason:
            raise ClusterError(reason)
        existing = self.state()
        if existing is not None and all(self.running().values()):
            return existing
        if existing is not None:
            self.down()
        home = spark_home()
        env = self._env(home)
        spark_class = str(home / "bin" / "spark-class")
        state = ClusterState(master_port=_free_port(), master_ui_port=_free_port(),
                             connect_port=self.connect_port or _free_port())
        (self.state_dir / "work").mkdir(parents=True, exist_ok=True)
        self._save(state)
        try:
            # the master's REST submission server would take the fixed port 6066: not needed
            master_env = {**env, "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false"}
            pid = self._spawn("master", [spark_class, "org.apache.spark.deploy.master.Master", "--host", HOST,
                                         "--port", str(state.master_port),
                                         "--webui-port", str(state.master_ui_port)], master_env)
            state.pids["master"] = pid
            self._save(state)
            self._wait("Spark master", lambda: _listening(state.master_port), 120, pid, self.log("master"))
            for n in range(1, WORKERS + 1):
                self._start_worker(f"worker{n}", home, state)
            self._wait(f"{WORKERS} workers registered with the master", lambda: self.workers_alive() >= WORKERS,
                       120, state.pids["master"], self.log("master"))
            # spark-submit sizes the Connect server, like a daemon, from SPARK_DAEMON_MEMORY
            pid = self._spawn("connect", self._connect_command(home, state), {**env, "SPARK_DAEMON_MEMORY": DRIVER_MEMORY})
            state.pids["connect"] = pid
            self._save(state)
            self._wait(f"Spark Connect server on port {state.connect_port}", lambda: _listening(state.connect_port),
                       timeout, pid, self.log("connect"))
        except BaseException:
            self.down()
            raise
        return state

    def _start_worker(self, name: str, home: Path, state: ClusterState) -> int:
        pid = self._spawn(name, [str(home / "bin" / "spark-class"), "org.apache.spark.deploy.worker.Worker",
                                 "--host", HOST, "--cores", str(WORKER_CORES), "--memory", WORKER_MEMORY,
                                 "--webui-port", str(_free_port()),
                                 "--work-dir", str(self.state_dir / "work" / name), state.master_url],
                          self._env(home))
        state.pids[name] = pid
        self._save(state)
        return pid

    def restart_worker(self, name: str, timeout: float = 120.0) -> int:
        """Start a stopped (or killed) worker again and wait until the master counts it."""
        state = self.state()
        if state is None:
            raise ClusterError(f"no cluster recorded in {self._state_file}")
        if name in state.pids and _alive(state.pids[name]):
            return state.pids[name]
        pid = self._start_worker(name, spark_home(), state)
        self._wait(f"{name} registered again", lambda: self.workers_alive() >= WORKERS, timeout, pid, self.log(name))
        return pid

    def _connect_command(self, home: Path, state: ClusterState) -> list[str]:
        local_dir = self.state_dir / "local"
        local_dir.mkdir(parents=True, exist_ok=True)
        conf = {
            # where to listen and where the cluster is: loopback only
            "spark.connect.grpc.binding.address": HOST,
            "spark.connect.grpc.binding.port": str(state.connect_port),
            "spark.driver.host": HOST,
            "spark.driver.bindAddress": HOST,
            # one executor per worker, each bounded
            "spark.executor.cores": str(WORKER_CORES),
            "spark.executor.memory": EXECUTOR_MEMORY,
            "spark.cores.max": str(WORKERS * WORKER_CORES),
            "spark.local.dir": str(local_dir),
            "spark.jars.ivy": str(self.ivy_dir),
            # executors run Python UDFs in the workbench's interpreter, with its code importable
            "spark.pyspark.python": self.python,
            "spark.executorEnv.PYTHONPATH": str(REPO),
            "spark.ui.enabled": "false",
            # sized for two cores, not a production cluster: the repository's 200 shuffle
            # partitions and Delta's 50 log-replay tasks per snapshot are mostly scheduling here
            "spark.sql.shuffle.partitions": "4",
            "spark.databricks.delta.snapshotPartitions": "2",
        }
        cmd = [str(home / "bin" / "spark-submit"), "--master", state.master_url,
               "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
               "--name", "workbench-spark-connect", "--properties-file", str(DEFAULTS_FILE),
               "--driver-memory", DRIVER_MEMORY]
        for key, value in conf.items():
            cmd += ["--conf", f"{key}={value}"]
        return cmd

    def kill_worker(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Send ``sig`` to one worker's process group (its JVM and its executor); returns the pid."""
        state = self.state()
        if state is None or name not in state.pids:
            raise ClusterError(f"no {name} recorded in {self._state_file}")
        pid = state.pids[name]
        _signal_group(pid, sig)
        return pid

    def down(self, timeout: float = 30.0) -> list[str]:
        """Stop every recorded process (Connect server first); returns the names stopped."""
        state = self.state()
        if state is None:
            return []
        stopped = []
        order = ["connect"] + sorted(n for n in state.pids if n.startswith("worker")) + ["master"]
        for name in order:
            pid = state.pids.get(name)
            if pid is None or not _alive(pid):
                continue
            _signal_group(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _alive(pid):
                _signal_group(pid, signal.SIGKILL)
            stopped.append(name)
        # executors are children of the workers in their process groups; make sure none is left
        for pid in state.pids.values():
            _signal_group(pid, signal.SIGKILL)
        self._state_file.unlink(missing_ok=True)
        return stopped


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
