"""Start the Streamlit app beside a supervised Sail process.

The app talks to Sail over loopback instead of embedding it: Python UDFs run in
the server's process and would otherwise compete with the UI for the GIL, and a
crashed engine can be restarted without taking the UI down.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from workbench.config import load_settings
from workbench.engine import embedded_server

ENTRY = Path(__file__).resolve().parent / "main.py"
# What Streamlit runs: main.py inside an st.App that adds the sign-in cookie routes.
ASGI_ENTRY = Path(__file__).resolve().parent / "asgi.py"


def streamlit_command(port: int, headless: bool) -> list[str]:
    # Without --headless Streamlit decides (it opens a browser only where there is a display),
    # and it never asks a first-time user for an e-mail address: on a server with no terminal
    # that prompt made the app exit.
    from workbench.app.browser_session import trusted_headers_option

    return [
        sys.executable, "-m", "streamlit", "run", str(ASGI_ENTRY),
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        *(["--server.headless", "true"] if headless else []),
        "--server.showEmailPrompt", "false",
        "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "minimal",  # no "Deploy" button for bureau users
        # settings are set again through the Session State API on purpose (a page visited again,
        # a language switch: session.keep_widget_values); Streamlit would log a stack each time
        "--global.disableWidgetStateDuplicationWarning", "true",
        # A session belongs to the sign-in cookie of the browser that opened it: Streamlit
        # resumes a session only for a connection presenting the same identity.
        "--server.trustedUserHeaders", trusted_headers_option(),
    ]


def serve(port: int = 8501, headless: bool = False) -> int:
    """Run until the app exits; restart the engine whenever it dies."""
    settings = load_settings()
    env = dict(os.environ)
    sail = None
    if settings.engine.embedded:
        sail = embedded_server(settings).start()
        env["WORKBENCH_ENGINE_REMOTE"] = sail.url
    print(f"workbench: app on http://127.0.0.1:{port}  engine: {sail.url if sail else settings.engine.remote}")
    app = subprocess.Popen(streamlit_command(port, headless), env=env)
    # SIGTERM (a service manager, a test) stops like Ctrl-C: the app first, while the
    # engine still answers (the app's Spark client would otherwise retry a dead
    # engine at exit for minutes), then the engine.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while app.poll() is None:
            if sail is not None and not sail.running:
                print("workbench: engine stopped; restarting it", file=sys.stderr)
                sail.start()
            time.sleep(1.0)
    except KeyboardInterrupt:
        app.terminate()
    finally:
        try:
            app.wait(timeout=20)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
        if sail is not None:
            sail.stop()
    return app.returncode or 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
