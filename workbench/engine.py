"""The one place that knows which Spark Connect server answers.

``get_spark()`` returns a ``SparkSession`` for the configured engine:

* embedded (default): Sail started in this process on a free loopback port, once
  per process, stopped at exit;
* remote (``[engine].remote = "sc://host:15002"``): an Apache Spark 4 Spark Connect
  server with Delta Lake, configured by the repository's ``spark-defaults.conf``.

Nothing else in the workbench knows which one it is talking to.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.config import Settings, load_settings

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

# Settings every session gets, on either engine. UTC because Sail compares
# timestamps in replaceWhere and filters in the session zone (see docs/data/lake.md: guards).
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
}


class EngineError(RuntimeError):
    """The engine could not be started or reached."""


@dataclass
class _EngineState:
    server: object | None = None  # keep a reference: a collected Sail server hangs every client
    url: str | None = None
    session: "SparkSession | None" = None
    last_used: float = 0.0


_state = _EngineState()
_lock = threading.RLock()


def _start_embedded_server() -> str:
    # Sail logs every session at INFO to stderr; keep the CLI and tests readable.
    os.environ.setdefault("RUST_LOG", "error")
    from pysail.spark import SparkConnectServer

    server = SparkConnectServer(ip="127.0.0.1", port=0)
    server.start(background=True)
    host, port = server.listening_address
    _state.server = server
    atexit.register(_shutdown)
    return f"sc://{host}:{port}"


def _shutdown() -> None:
    with _lock:
        if _state.session is not None:
            try:
                _state.session.stop()
            except Exception:  # best effort at interpreter exit
                pass
        if _state.server is not None:
            try:
                _state.server.stop()  # type: ignore[attr-defined]
            except Exception:
                pass
        _state.session = None
        _state.server = None
        _state.url = None


def _reachable(url: str, timeout: float = 5.0) -> str | None:
    """None when a TCP connection to the sc:// address opens, else the reason.

    Checked before the client starts because its gRPC retries would otherwise keep a
    user waiting for minutes on a wrong address.
    """
    match = re.match(r"^sc://([^:/]+):(\d+)", url)
    if not match:
        return "the address is not of the form sc://host:port"
    try:
        with socket.create_connection((match.group(1), int(match.group(2))), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)


def _import_connect_client() -> None:
    """Import pyspark's Spark Connect client, whatever ``__main__`` is.

    The client's package ``__init__`` takes a ``__main__`` module with neither a file nor a
    spec for pyspark's own doctest run, and then exits the process looking for a Spark
    installation. That is also what ``python -c``, pytest-xdist's workers and some embedding
    interpreters look like. For the one import, such a process is marked interactive (the
    check's other way out); nothing else reads the mark before it is removed.
    """
    if "pyspark.sql.connect.session" in sys.modules:
        return
    main = sys.modules.get("__main__")
    fileless = (main is not None and getattr(main, "__spec__", None) is None and not hasattr(main, "__file__")
                and not hasattr(sys, "ps1"))
    if fileless:
        sys.ps1 = ""
    try:
        import pyspark.sql.connect.session  # noqa: F401 - imported for its side effect, with sys.ps1 set as above
    finally:
        if fileless:
            del sys.ps1


def _connect(url: str, remote: bool) -> "SparkSession":
    from pyspark.sql import SparkSession

    _import_connect_client()

    hint = (
        "Check that the Spark Connect server is running (`workbench cluster up` on this machine, "
        "or sbin/start-connect-server.sh --properties-file spark-defaults.conf on a cluster) and that host and port are right in "
        "[engine].remote of conf/workbench.toml or WORKBENCH_ENGINE_REMOTE; leave it empty "
        "to use the embedded Sail engine."
    ) if remote else "The embedded Sail engine did not answer; check that pysail is installed (make install)."
    reason = _reachable(url)
    if reason is not None:
        raise EngineError(f"could not connect to Spark Connect at {url}: {reason}. {hint}")
    try:
        # create(), not getOrCreate(): the latter hands back any existing session,
        # whatever address it was built for.
        session = SparkSession.builder.remote(url).create()
        # the version first: other requests of a mismatched client fail with obscure errors
        check_versions(client_version(), session.version, url)
        for key, value in SESSION_CONF.items():
            session.conf.set(key, value)
        session.sql("SELECT 1").collect()
    except EngineError:
        raise
    except Exception as exc:  # grpc and pyspark raise many kinds
        raise EngineError(f"could not connect to Spark Connect at {url} with pyspark-client {client_version()}: "
                          f"{str(exc).splitlines()[0]}. {hint}") from exc
    return session


def client_version() -> str:
    """The Spark Connect client's version (``pyspark-client`` in requirements.txt)."""
    import pyspark

    return pyspark.__version__


def _major_minor(version: str) -> tuple[int, int] | None:
    match = re.match(r"^(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else None


def check_versions(client: str, server: str, url: str) -> None:
    """Refuse a client and server of different Spark feature versions (major.minor).

    A newer client sends plan fields an older server rejects, often with an error that
    names neither version; saying so up front tells the user what to change and where.
    """
    if _major_minor(client) == _major_minor(server) and _major_minor(client) is not None:
        return
    raise EngineError(
        f"Spark Connect client and server versions differ: pyspark-client {client} (requirements.txt, "
        f"or requirements-cluster.txt's venv) against Spark {server} at {url}. Install pyspark-client of "
        f"the server's version (pip install 'pyspark-client=={server}') or run a Spark {client} server "
        f"(requirements-cluster.txt pins the cluster's pyspark, spark-defaults.conf its Delta package).")


def _alive(session: "SparkSession") -> bool:
    try:
        session.sql("SELECT 1").collect()
        return True
    except Exception:
        return False


def get_spark(settings: Settings | None = None) -> "SparkSession":
    """Return the process's Spark Connect session, starting the engine on first use.

    A session left idle longer than ``[engine].idle_check_seconds`` is pinged before
    reuse and replaced when the server dropped it (Sail drops idle sessions after 900 s).
    """
    settings = settings or load_settings()
    with _lock:
        now = time.monotonic()
        if _state.session is not None:
            if now - _state.last_used < settings.engine.idle_check_seconds or _alive(_state.session):
                _state.last_used = now
                return _state.session
            _reset_session()
            if _state.server is not None and not _state.server.running:  # type: ignore[attr-defined]
                _state.server = None
                _state.url = None
        remote = not settings.engine.embedded
        if _state.url is None:
            _state.url = settings.engine.remote if remote else _start_embedded_server()
        _state.session = _connect(_state.url, remote)
        _state.last_used = now
        return _state.session


def _reset_session() -> None:
    try:
        if _state.session is not None:
            _state.session.stop()
    except Exception:  # the session is already dead
        pass
    _state.session = None


def engine_kind(settings: Settings | None = None) -> str:
    settings = settings or load_settings()
    return "sail (embedded)" if settings.engine.embedded else f"spark connect at {settings.engine.remote}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SailProcess:
    """Sail as a supervised child process, for long-lived servers such as the app.

    Python UDFs run inside the Sail server's process; in-process they would compete
    with the Streamlit UI for the GIL, so the app runs Sail beside it instead.
    """

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f"sc://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> "SailProcess":
        sail = shutil.which("sail", path=os.path.dirname(sys.executable)) or shutil.which("sail")
        cmd = [sail, "spark", "server", "--ip", "127.0.0.1", "--port", str(self.port)] if sail else [
            sys.executable, "-m", "pysail", "spark", "server", "--ip", "127.0.0.1", "--port", str(self.port)
        ]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise EngineError(f"Sail server exited with code {self._proc.returncode}: {' '.join(cmd)}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return self
            time.sleep(0.1)
        raise EngineError(f"Sail server did not listen on 127.0.0.1:{self.port} within {timeout:.0f} s")

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def ensure_running(self) -> None:
        if not self.running:
            self.start()

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None
