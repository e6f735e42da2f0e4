"""The seqzoo web app: vanilla RNN, LSTM and BiLSTM side by side, and a look inside their cells.

    python app.py                     # http://127.0.0.1:7860, offline
    SEQZOO_MODELS_DIR=/tmp/models python app.py   # use checkpoint folders from elsewhere
    GRADIO_SERVER_NAME=0.0.0.0 GRADIO_SERVER_PORT=8080 python app.py   # a container or a hosted Space
    SEQZOO_DEVICE=cuda python app.py  # the models on a GPU

The page is built from webapp/ (layout in webapp/ui.py, computations in webapp/logic.py and
zoo/probe.py). Every event has an api_name, so gradio_client can call it:
    Client("http://127.0.0.1:7860").predict("EU rejects German call .", api_name="/ner")
"""
from __future__ import annotations

import errno
import os
import socket
import sys

import torch


def server_address() -> tuple[str, int]:
    """gradio's own GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (which hosts set; unset, 127.0.0.1:7860), checked
    before gradio is imported (it reads the port at import) and before any model loads: a bad value is one line."""
    name, text = os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), os.environ.get("GRADIO_SERVER_PORT", "7860")
    port = int(text) if text.strip().isdigit() else -1
    if not 1 <= port <= 65535:
        sys.exit(f"error: GRADIO_SERVER_PORT={text!r}: a port is a whole number from 1 to 65535")
    try:
        socket.getaddrinfo(name, port)
    except (OSError, UnicodeError):
        sys.exit(f"error: GRADIO_SERVER_NAME={name!r} is not an address here (e.g. 127.0.0.1, or 0.0.0.0 for all)")
    return name, port


def check_port_free(name: str, port: int) -> None:
    """A port another server holds (or one this user may not open, or an address not of this machine) is one line
    before the models load: gradio finds out only at launch, and says it in a traceback. Each address the name
    resolves to is bound and let go (gradio's own check binds 127.0.0.1 alone); a race after this is gradio's. An
    address that cannot be had among others that can (localhost's ::1 where IPv6 is off) is no refusal."""
    addresses = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    failed = []
    for family, kind, proto, _, address in addresses:
        try:  # the socket too: with IPv6 off at boot an AF_INET6 one cannot be made (EAFNOSUPPORT)
            with socket.socket(family, kind, proto) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(address)
        except OSError as e:
            failed.append(e)
    why = {errno.EADDRINUSE: "another server runs there: stop it or set GRADIO_SERVER_PORT to a free port",
           errno.EACCES: "this user may not open it" + (" (ports below 1024 need root)" if port < 1024 else "")
           + ": set GRADIO_SERVER_PORT"}
    refused = [e for e in failed if e.errno in why] or (failed if len(failed) == len(addresses) else [])
    if refused:
        e = refused[0]
        sys.exit(f"error: port {port} on {name} cannot be opened ({e.strerror or e}): "
                 + why.get(e.errno, "set GRADIO_SERVER_NAME to an address of this machine (or 0.0.0.0 for all)"))


address = server_address()  # a bad value stops here, before gradio and the models load (launch reads them again)
# only a server starting checks: importing the app (tests) binds nothing, and under `gradio app.py` (hot reload,
# which sets GRADIO_WATCH_DIRS) the file is run again inside the server that holds the port
if __name__ == "__main__" and not os.environ.get("GRADIO_WATCH_DIRS"):
    check_port_free(*address)

from webapp.texts import I18N  # noqa: E402  (after the check: gradio reads GRADIO_SERVER_PORT when imported)
from webapp.ui import CSS, JS, THEME, build  # noqa: E402

# Requests run CONCURRENCY at a time, each on one thread: the models are small, and extra threads per
# request only spin against each other on a 2-core machine.
torch.set_num_threads(1)
demo = build()


MAX_UPLOAD = "20mb"  # gradio refuses bigger uploads (HTTP 413) before they reach the disk cache
# uploads are kept for an hour (long enough to caption one again), checked every 10 minutes; gradio keeps
# them forever otherwise. A Blocks option that gradio reads when the server starts
DELETE_CACHE = (600, 3600)


def launch(**kwargs):
    """Start the server with the app's translations (gr.I18n is a launch option, not a Blocks one)."""
    # no /monitoring page: its traffic summary costs CPU on every request (see webapp.ui.build)
    name, port = server_address()
    options = {"server_name": name, "server_port": port, "i18n": I18N,
               "css": CSS, "js": JS, "theme": THEME, "enable_monitoring": False, "max_file_size": MAX_UPLOAD,
               # gradio's own refusals of a crafted payload (a path that was not uploaded, a number where a file
               # belongs) answered {"error": null}; with this they say why. The event functions raise gr.Error
               # with their own messages either way, and tracebacks stay in the server's log
               "show_error": True,
               # no "Runs" page: gradio 6 keeps each call's inputs in the browser and lists them there, with the
               # app's translated labels as raw keys (__I18N__{...}) and its own words in English on a Korean page
               "run_history": False}
    demo.delete_cache = demo.delete_cache or DELETE_CACHE
    return demo.launch(**{**options, **kwargs})


if __name__ == "__main__":
    launch()
