"""The one place that knows which Spark Connect server answers.

``get_spark()`` returns a ``SparkSession`` for the configured engine:

* embedded (default): Sail started as a child process on a free loopback port, once
  per process, with a memory limit (``[engine].memory_limit``), stopped at exit and
  when this process dies;
* remote (``[engine].remote = "sc://host:15002"``): an Apache Spark 4 Spark Connect
  server with Delta Lake, configured by the repository's ``spark-defaults.conf``.

Nothing else in the workbench knows which one it is talking to.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

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
    server: "SailProcess | None" = None
    url: str | None = None
    session: "SparkSession | None" = None
    last_used: float = 0.0


_state = _EngineState()
_lock = threading.RLock()


def _start_embedded_server(settings: Settings) -> str:
    # Its own process, not a thread of this one: its memory is bounded and measured apart
    # from the workbench's, and Python UDFs do not contend with this process for the GIL.
    server = embedded_server(settings).start()
    _state.server = server
    atexit.register(_shutdown)
    return server.url


def embedded_server(settings: Settings) -> "SailProcess":
    """The embedded engine as *settings* bound it (memory, spill folder and its limit), not started."""
    directory = engine_spill_directory(settings)
    return SailProcess(memory_limit=engine_memory_limit(settings), spill_directory=directory,
                       spill_limit=engine_spill_limit(settings, directory))


def machine_memory() -> int:
    """Bytes of memory this process may use: the machine's, or its cgroup's limit when lower."""
    import psutil

    total = psutil.virtual_memory().total
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = open(path).read().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def engine_memory_limit(settings: Settings) -> int:
    """The embedded engine's memory pool in bytes: ``[engine].memory_limit``, or a quarter of
    the machine's memory ("auto"), leaving the rest to the workbench's own process (readers,
    models, the app) and the operating system's file cache."""
    from workbench.config import parse_memory_size

    return parse_memory_size(settings.engine.memory_limit) or max(machine_memory() // 4, 256 * 2**20)


SPILL_PREFIX = "workbench-engine-"


def engine_spill_directory(settings: Settings) -> str:
    """The folder under which the embedded engine's spill folder is made: ``[engine].spill_directory``,
    or the system's temporary folder ("auto")."""
    import tempfile

    from workbench.config import resolve_path

    value = settings.engine.spill_directory.strip()
    return tempfile.gettempdir() if value.lower() in ("", "auto") else resolve_path(value)


def engine_spill_limit(settings: Settings, directory: str) -> int:
    """The most disk, in bytes, the embedded engine's spills may take: ``[engine].spill_limit``,
    or half the free space of *directory*'s disk now ("auto"), so that a spill that outgrows it
    fails the job with a message instead of filling the disk the lake's commits need."""
    from workbench.config import parse_memory_size

    explicit = parse_memory_size(settings.engine.spill_limit)
    if explicit is not None:
        return explicit
    os.makedirs(directory, exist_ok=True)
    return max(shutil.disk_usage(directory).free // 2, 256 * 2**20)


def running_spill_limit(settings: Settings) -> tuple[str, int]:
    """(folder, bytes) of the engine's spill limit: the one *settings* name, or, for "auto" (half
    the disk's free space when the engine started), the one this process's engine started with."""
    server = _state.server
    auto = settings.engine.spill_limit.strip().lower() == "auto"
    if auto and server is not None and server.spill_directory is not None and server.spill_limit is not None:
        return server.spill_directory, server.spill_limit
    directory = engine_spill_directory(settings)
    return directory, engine_spill_limit(settings, directory)


def linkage_memory_limit(settings: Settings) -> int:
    """The linkage's DuckDB memory in bytes: ``[linkage].memory_limit``, or a quarter of the
    machine's memory ("auto"): beside the engine's quarter, half is left to pandas, the
    app and the file cache."""
    from workbench.config import parse_memory_size

    return parse_memory_size(settings.linkage.memory_limit) or max(machine_memory() // 4, 256 * 2**20)


_OUT_OF_MEMORY = re.compile(r"resources? exhausted|memory pool|failed to allocate", re.IGNORECASE)
# DataFusion's words when spills pass the engine's temporary-disk limit (also "resources exhausted")
_OUT_OF_SPILL = re.compile(r"disk space during the spilling process has exceeded|max_temp_directory_size",
                           re.IGNORECASE)


def out_of_engine_spill(error: BaseException) -> bool:
    """Whether *error* is the engine refusing to spill past ``[engine].spill_limit``."""
    return bool(_OUT_OF_SPILL.search(str(error)))


def out_of_engine_memory(error: BaseException) -> bool:
    """Whether *error* is the engine refusing work beyond its memory limit, which a larger
    ``[engine].memory_limit`` (WORKBENCH_ENGINE_MEMORY_LIMIT) would let through."""
    return bool(_OUT_OF_MEMORY.search(str(error)))


def out_of_linkage_memory(error: BaseException) -> bool:
    """Whether *error* is the linkage's DuckDB refusing work beyond ``[linkage].memory_limit``
    (what cannot spill: one block's pairs or lists held whole)."""
    return "Out of Memory Error" in str(error) or type(error).__name__ == "OutOfMemoryException"


def _shutdown() -> None:
    with _lock:
        if _state.session is not None:
            try:
                _state.session.stop()
            except Exception:  # best effort at interpreter exit
                pass
        if _state.server is not None:
            try:
                _state.server.stop()
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
            if _state.server is not None and not _state.server.running:
                _state.server = None
                _state.url = None
        remote = not settings.engine.embedded
        if _state.url is None:
            _state.url = settings.engine.remote if remote else _start_embedded_server(settings)
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


def _parent_death_signal() -> "Callable[[], None] | None":
    """What the child runs before the engine starts: ask Linux to stop it when the process that
    started it dies, so a workbench killed with SIGKILL leaves no engine holding memory and a
    port. The C function is looked up here, in the parent: between fork and exec a child of a
    threaded process must not load libraries (another thread may have held the loader's lock)."""
    try:
        import ctypes
        import signal

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: stopped at exit only
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong]
    sigterm = int(signal.SIGTERM)
    return lambda: prctl(1, sigterm)  # PR_SET_PDEATHSIG


class _Launcher:
    """Starts child processes from one thread that lives as long as this process.

    Linux's parent-death signal fires when the *thread* that started the child exits, not
    the process: an engine first asked for from a short-lived thread (a page's worker, a
    test's executor) would die with it."""

    def __init__(self) -> None:
        import queue

        self._requests: "queue.Queue[tuple]" = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def popen(self, *args, **kwargs) -> "subprocess.Popen[bytes]":
        import queue

        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._serve, name="workbench-engine-launcher", daemon=True)
                self._thread.start()
        answer: "queue.Queue[tuple]" = queue.Queue(maxsize=1)
        self._requests.put((args, kwargs, answer))
        ok, value = answer.get()
        if not ok:
            raise value
        return value

    def _serve(self) -> None:
        while True:
            args, kwargs, answer = self._requests.get()
            try:
                answer.put((True, subprocess.Popen(*args, **kwargs)))
            except BaseException as exc:  # handed to the caller, who raises it
                answer.put((False, exc))


_launcher = _Launcher()


class SailProcess:
    """Sail as a supervised child process: the embedded engine of every workbench process.

    Its own process, so its memory is bounded (``memory_limit``: Sail's fair memory pool,
    under which sorts, joins and aggregations spill to disk) and measured apart, it stops
    with its parent, and Python UDFs (which run in the server's process) do not compete
    with the Streamlit UI or a job for this process's GIL. The child imports what this
    process imports (its ``sys.path``), so a UDF defined in a notebook or test module runs.
    """

    def __init__(self, port: int | None = None, memory_limit: int | None = None,
                 spill_directory: str | None = None, spill_limit: int | None = None):
        self.port = port or free_port()
        self.url = f"sc://127.0.0.1:{self.port}"
        self.memory_limit = memory_limit
        self.spill_directory = spill_directory
        self.spill_limit = spill_limit
        self.spill_folder: str | None = None  # this server's own, under spill_directory
        self._proc: subprocess.Popen[bytes] | None = None

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "error")  # Sail logs every session at INFO otherwise
        # "" on sys.path is the working directory (python -c, a notebook): only then is it passed on
        paths = [os.getcwd() if p == "" else p for p in sys.path]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if os.path.isdir(p)))
        if self.memory_limit is not None:
            env["SAIL_RUNTIME__MEMORY_POOL__TYPE"] = "fair"
            env["SAIL_RUNTIME__MEMORY_POOL__FAIR__MAX_SIZE"] = str(self.memory_limit)
        if self.spill_folder is not None:
            env["SAIL_RUNTIME__TEMPORARY_FILES__PATHS"] = json.dumps([self.spill_folder])
        if self.spill_limit is not None:
            env["SAIL_RUNTIME__TEMPORARY_FILES__MAX_SIZE"] = str(self.spill_limit)
        return env

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self, timeout: float = 30.0) -> "SailProcess":
        sail = shutil.which("sail", path=os.path.dirname(sys.executable)) or shutil.which("sail")
        cmd = [sail, "spark", "server", "--ip", "127.0.0.1", "--port", str(self.port)] if sail else [
            sys.executable, "-m", "pysail", "spark", "server", "--ip", "127.0.0.1", "--port", str(self.port)
        ]
        if self.spill_directory is not None:
            # named after this process, which the server dies with: the next start removes
            # the folder of a process that was killed before it could
            from workbench.spill import process_folder

            if self.spill_folder is not None:  # a restart after the server died
                shutil.rmtree(self.spill_folder, ignore_errors=True)
            self.spill_folder = str(process_folder(SPILL_PREFIX, self.spill_directory))
        self._proc = _launcher.popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env=self.environment(), preexec_fn=_parent_death_signal())
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
        if self.spill_folder is not None:
            shutil.rmtree(self.spill_folder, ignore_errors=True)
            self.spill_folder = None
