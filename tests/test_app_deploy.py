"""The app as a deployable program: `python app.py` listens where gradio's own GRADIO_SERVER_NAME and
GRADIO_SERVER_PORT say (as containers and hosted Spaces set them), and on 127.0.0.1:7860 otherwise."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from app_models import write_models

ROOT = Path(__file__).resolve().parents[1]


def test_the_app_answers_on_the_port_gradio_server_port_names(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "SEQZOO_MODELS_DIR": str(write_models(tmp_path / "models")), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline, answer = time.monotonic() + 240, None
        while time.monotonic() < deadline and proc.poll() is None and answer is None:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/gradio_api/info", timeout=5)
            except httpx.TransportError:
                time.sleep(0.5)
        assert answer is not None and answer.status_code == 200, proc.stderr.read() if proc.poll() is not None else ""
        assert "/ner" in answer.text
        config = httpx.get(f"http://127.0.0.1:{port}/config", timeout=5).json()
        assert config["run_history"] is False  # no Runs page of raw translation keys, no typed texts kept
    finally:
        proc.kill()
        proc.wait()


def test_without_the_variables_the_app_binds_loopback_port_7860(monkeypatch):
    sys.path.insert(0, str(ROOT))
    import app
    seen = {}
    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    monkeypatch.setattr(app.demo, "launch", lambda **kw: seen.update(kw))
    app.launch()
    assert (seen["server_name"], seen["server_port"]) == ("127.0.0.1", 7860)
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "8080")
    app.launch()
    assert (seen["server_name"], seen["server_port"]) == ("0.0.0.0", 8080)


def test_a_bad_server_port_or_name_is_one_line_before_any_model_loads():
    for var, value, message in (("GRADIO_SERVER_PORT", "abc", "a port is a whole number from 1 to 65535"),
                                ("GRADIO_SERVER_PORT", "99999", "from 1 to 65535"), ("GRADIO_SERVER_PORT", "0", "from 1"),
                                ("GRADIO_SERVER_NAME", "bogus.invalid", "is not an address here")):
        env = {**os.environ, var: value, "SEQZOO_MODELS_DIR": "/nonexistent"}
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 1 and len(lines) == 1 and lines[0].startswith(f"error: {var}={value!r}")
        assert message in lines[0] and time.monotonic() - t0 < 60


def test_a_port_another_server_holds_is_one_line_before_any_model_loads():
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "localhost"}
        # app.py run as a server whose models, were they loaded before the check, would stop it with another line
        loads_first = ("import runpy, sys, webapp.ui; webapp.ui.build = lambda: sys.exit('the models loaded first'); "
                       "runpy.run_path('app.py', run_name='__main__')")
        r = subprocess.run([sys.executable, "-c", loads_first], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=120)
        plain = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1, r.stderr  # gradio's own refusal is a traceback, after the models
    assert lines[0].startswith(f"error: port {port} on localhost cannot be opened (")
    assert "another server runs there: stop it or set GRADIO_SERVER_PORT to a free port" in lines[0]
    assert plain.returncode == 1 and plain.stderr.strip() == lines[0]  # the command itself says the same


def test_under_gradios_hot_reload_the_port_its_own_server_holds_is_not_refused(tmp_path):
    """`gradio app.py` runs the file again inside the server holding the port (GRADIO_WATCH_DIRS set): the check
    stopped each reload silently."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        env = {**os.environ, "GRADIO_SERVER_PORT": str(held.getsockname()[1]), "GRADIO_WATCH_DIRS": str(ROOT),
               "SEQZOO_MODELS_DIR": str(write_models(tmp_path / "models")), "OMP_NUM_THREADS": "1"}
        as_reloaded = ("import gradio, runpy; gradio.Blocks.launch = lambda self, **kw: print('launched'); "
                       "runpy.run_path('app.py', run_name='__main__')")
        r = subprocess.run([sys.executable, "-c", as_reloaded], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=300)
    assert r.returncode == 0 and r.stdout.strip().endswith("launched"), r.stderr


def test_the_page_font_is_gradios_own_complete_files_so_bold_words_keep_one_font(monkeypatch):
    """gradio's bundled Source Sans Pro SemiBold (its bold, 600) holds 55 letters: bold words mixed two fonts.
    The app's theme serves the Regular and Bold files, local (offline) and whole (about 100 kB each; the
    subset is 5 kB)."""
    import re

    import gradio
    sys.path.insert(0, str(ROOT))
    import app
    seen = {}
    monkeypatch.setattr(app.demo, "launch", lambda **kw: seen.update(kw))
    app.launch()
    css = "".join(f.stylesheet()["css"] or "" for f in seen["theme"]._font if hasattr(f, "stylesheet"))
    urls = re.findall(r"url\('(static/fonts/[^']+)'\)", css)
    assert urls and "SemiBold" not in css and "googleapis" not in css
    frontend = Path(gradio.__file__).parent / "templates" / "frontend"
    assert all((frontend / u).stat().st_size > 50_000 for u in urls), urls
