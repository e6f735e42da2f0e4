"""Latency of the web app's API, measured the way a client sees it: through gradio_client, queue included.

    python bench/app_latency.py                      # serves app.py in-process on a free 127.0.0.1 port
    python bench/app_latency.py --n 50 --url http://127.0.0.1:7860/
    SEQZOO_MODELS_DIR=/tmp/models python bench/app_latency.py

Each endpoint is called once to warm up (model loading is not what we measure), then --n times in a row.
Prints one JSON line per endpoint: p50, p90 and max in milliseconds. Requests go to loopback only.
"""
from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NER_TEXT = "Peter Blackburn of the European Commission met Angela Merkel in Brussels on Monday , and the leaders told Reuters that talks with the United Nations in New York resume ."  # 30 words
SENT_TEXT = "the plot is not bad at all , but the acting is painfully dull and the jokes fall flat , so by the end i wanted my money back ."  # 30 words
CALLS = {  # api_name -> arguments
    "/sentiment": (SENT_TEXT,),
    "/ner": (NER_TEXT,),
    "/inside": (NER_TEXT, "ner-lstm", "forward"),
    "/memory": (SENT_TEXT, "sentiment"),
    "/shapes": (2, 10, 3, "rnn", False, False),
    "/caption": ("EXAMPLE_IMAGE", 3),  # a scikit-image sample photo, uploaded on every call
}


def serve() -> tuple[str, object]:
    import app
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.launch(server_port=port, prevent_thread_lock=True, quiet=True)
    return f"http://127.0.0.1:{port}/", app.demo


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="a running app (default: start one in this process)")
    p.add_argument("--n", type=int, default=20, help="timed calls per endpoint (1..500)")
    p.add_argument("--only", nargs="*", default=list(CALLS), help="endpoints to time, e.g. /ner /shapes")
    args = p.parse_args(argv)
    n = max(1, min(args.n, 500))  # bounded: this is a latency probe, not a load test
    from gradio_client import Client
    url, demo = (args.url, None) if args.url else serve()
    try:
        client = Client(url, verbose=False)
        for api in args.only:
            call = CALLS.get(api)
            if call and call[0] == "EXAMPLE_IMAGE":
                from gradio_client import handle_file
                from webapp.captions import example_images
                call = (handle_file(example_images()[0]), *call[1:])
            if call is None:
                print(f"error: unknown endpoint {api}; have {', '.join(CALLS)}", file=sys.stderr)
                return 2
            try:
                client.predict(*call, api_name=api)  # warm-up: loads the models
            except Exception as e:  # a task without models: report it and go on
                print(json.dumps({"api": api, "error": str(e).splitlines()[0][:200]}))
                continue
            ms = []
            for _ in range(n):
                t0 = time.perf_counter()
                client.predict(*call, api_name=api)
                ms.append(1000 * (time.perf_counter() - t0))
            ms.sort()
            print(json.dumps({"api": api, "n": n, "p50_ms": round(statistics.median(ms), 1),
                              "p90_ms": round(ms[int(0.9 * (n - 1))], 1), "max_ms": round(ms[-1], 1)}))
    finally:
        if demo is not None:
            demo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
