"""Latency of the web app's API, three ways, so the figures say where the time goes.

    python bench/app_latency.py                      # starts app.py in a child process on a free 127.0.0.1 port
    python bench/app_latency.py --n 50 --only /ner /sentiment /caption
    python bench/app_latency.py --url http://127.0.0.1:7860/   # a running app (no server CPU column)
    SEQZOO_MODELS_DIR=/tmp/models python bench/app_latency.py

The server runs in its own process, as in production, so the timing client never competes with it for
Python's GIL. For each endpoint, the same call is timed:
  function       the event function called in this process (webapp.logic / captions): model time + formatting
  raw_http       gradio's documented HTTP API with one keep-alive httpx client: POST /gradio_api/call/<api>
                 (after POST /gradio_api/upload for an image), then read the GET /gradio_api/call/<api>/<id>
                 event stream to its end: the queue, pre/postprocessing, JSON and HTTP included. The body
                 names a session_hash, one per client as gradio_client does: without one, gradio builds a
                 new session (a copy of every component's config, ~25 ms for this app) on every call;
                 --no-session measures that
  gradio_client  Client.predict, the way most Python users call the app; it waits for each queue message by
                 polling with time.sleep(0.05) (gradio_client.utils.stream_sse_v1plus), which adds up to 50 ms
                 per message on the client side (see /shapes, a sub-millisecond function)
Each way is warmed up once (model loading is not what we measure); then the three are called in turn, --n
rounds, so a change in the machine's load hits all three alike. Prints one JSON line per endpoint with
p50/p90/p99 in ms, then a markdown table with the machine's load. Requests go to loopback only.

On a busy machine wall-clock times say more about the neighbours than about the app, so the CPU time is
printed too (median ms per call, Linux): the function's own thread, and the server process for a raw HTTP
call (all its threads, less what the idle server burns in the same time: gradio's queue loop polls every
millisecond). On an idle machine with a free core, a raw HTTP call takes about server CPU + a little.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NER_TEXT = "Peter Blackburn of the European Commission met Angela Merkel in Brussels on Monday , and the leaders told Reuters that talks with the United Nations in New York resume ."  # 30 words
SENT_TEXT = "the plot is not bad at all , but the acting is painfully dull and the jokes fall flat , so by the end i wanted my money back ."  # 30 words
IMAGE = "EXAMPLE_IMAGE"  # a scikit-image sample photo, uploaded on every call
CALLS = {  # api_name -> arguments
    "/sentiment": (SENT_TEXT, "sst2"),
    "/ner": (NER_TEXT,),
    "/caption": (IMAGE, 3),
    "/inside": (NER_TEXT, "ner-lstm", "forward"),
    "/memory": (SENT_TEXT, "sst2"),
    "/lifetime": (SENT_TEXT, "sst2"),
    "/shapes": (2, 10, 3, "rnn", False, False),
}
WAYS = ("function", "raw_http", "gradio_client")


def serve(timeout: float = 180.0, argv: list[str] | None = None, env: dict | None = None):
    """Start `python app.py` (or argv) on a free loopback port (GRADIO_SERVER_PORT, as app.py reads it);
    -> (url, process) once it answers."""
    import httpx
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), **(env or {})}
    proc = subprocess.Popen(argv or [sys.executable, str(ROOT / "app.py")], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url, deadline = f"http://127.0.0.1:{port}/", time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}gradio_api/info", timeout=5).status_code == 200:
                return url, proc
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"app.py did not answer on {url} within {timeout:.0f} s (run python app.py to see why)")


def image_path() -> str:
    from webapp.captions import example_image
    return example_image()


def function_call(api: str, args: tuple):
    """The event function behind api_name, as gradio would call it (no request: English)."""
    from webapp import captions, inside_views, logic, memory_views
    from webapp.shapes import shapes
    fn = {"/sentiment": logic.sentiment, "/ner": logic.ner, "/caption": captions.caption, "/inside": inside_views.inside,
          "/memory": memory_views.memory, "/lifetime": memory_views.lifetime, "/shapes": shapes}[api]
    args = tuple(image_path() if a == IMAGE else a for a in args)
    return lambda: fn(*args)


def raw_call(http, url: str, api: str, args: tuple, session: str | None):
    """One call through gradio's HTTP API; -> the output list. Raises RuntimeError with the app's error message."""
    body = {} if session is None else {"session_hash": session}

    def call():
        data = []
        for a in args:
            if a == IMAGE:  # upload first, as gradio_client and the page do
                with open(image_path(), "rb") as f:
                    r = http.post(f"{url}gradio_api/upload", files={"files": (Path(image_path()).name, f)})
                r.raise_for_status()
                a = {"path": r.json()[0], "meta": {"_type": "gradio.FileData"}}
            data.append(a)
        r = http.post(f"{url}gradio_api/call{api}", json={"data": data, **body})
        r.raise_for_status()
        event, result = None, None
        with http.stream("GET", f"{url}gradio_api/call{api}/{r.json()['event_id']}") as stream:
            for line in stream.iter_lines():  # read to the end, so the connection goes back to the pool
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event in ("complete", "error"):
                    result = (event, json.loads(line[5:]))
        if result is None or result[0] == "error":
            raise RuntimeError(f"{api}: {result[1] if result else 'no result'}")
        return result[1]
    return call


def client_call(client, api: str, args: tuple):
    from gradio_client import handle_file
    return lambda: client.predict(*[handle_file(image_path()) if a == IMAGE else a for a in args], api_name=api)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile, q in 0..100: a value that occurred (p99 of under 100 calls is the slowest);
    None for no values. Every bench script reports percentiles with this one."""
    if len(values) == 0:  # a list or a NumPy array
        return None
    s = sorted(values)
    return s[max(0, math.ceil(q / 100 * len(s)) - 1)]


def summary(ms: list[float]) -> dict:
    return {k: round(percentile(ms, q), 1) for k, q in (("p50", 50), ("p90", 90), ("p99", 99))}


def cpu_ns(pid: int) -> int:
    """CPU time used so far by all live threads of a process, in ns (/proc/<pid>/task/*/schedstat)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):  # a thread that ended meanwhile
            pass
    return total


def idle_rate(pid: int, seconds: float = 2.0) -> float:
    """CPU ns per wall ns that the server uses while nobody calls it."""
    c0, t0 = cpu_ns(pid), time.perf_counter_ns()
    time.sleep(seconds)
    return (cpu_ns(pid) - c0) / (time.perf_counter_ns() - t0)


def load_note() -> str:
    from zoo import cpu
    one, five, _ = os.getloadavg()
    return (f"{os.cpu_count()} CPUs ({cpu.describe()}), load average {one:.2f} (1 min) / {five:.2f} (5 min) "
            "when the run ended")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="a running app on this machine (default: start app.py in a child process)")
    p.add_argument("--n", type=int, default=30, help="timed rounds per endpoint (1..500)")
    p.add_argument("--only", nargs="*", default=list(CALLS), help="endpoints to time, e.g. /ner /shapes")
    p.add_argument("--no-session", action="store_true", help="raw HTTP calls without a session_hash (a new session each)")
    args = p.parse_args(argv)
    n = max(1, min(args.n, 500))  # bounded: this is a latency probe, not a load test
    unknown = [a for a in args.only if a not in CALLS]
    if unknown:
        print(f"error: unknown endpoint {', '.join(unknown)}; have {', '.join(CALLS)}", file=sys.stderr)
        return 2
    import httpx
    import torch
    from gradio_client import Client
    torch.set_num_threads(1)  # as app.py: the function-only column runs under the server's settings
    url, server = (args.url.rstrip("/") + "/", None) if args.url else serve()
    session = None if args.no_session else f"bench-{os.getpid()}"
    rows = []
    try:
        # server CPU per call needs the server's pid, so only for the server started here
        pid = server.pid if server is not None and Path(f"/proc/{server.pid}/task").is_dir() else None
        idle = idle_rate(pid) if pid else 0.0
        client = Client(url, verbose=False)
        http = httpx.Client(timeout=120)  # keep-alive: one connection reused, as a real client would
        for api in args.only:
            calls = {"function": function_call(api, CALLS[api]),
                     "raw_http": raw_call(http, url, api, CALLS[api], session),
                     "gradio_client": client_call(client, api, CALLS[api])}
            try:
                for call in calls.values():
                    call()  # warm-up: loads the models
            except Exception as e:  # a task without models: report it and go on
                print(json.dumps({"api": api, "error": str(e).splitlines()[0][:200]}))
                continue
            ms, cpu = {way: [] for way in calls}, {"function": [], "server_per_raw_call": []}
            for _ in range(n):
                for way, call in calls.items():
                    c0, s0, t0 = time.thread_time_ns(), pid and cpu_ns(pid), time.perf_counter_ns()
                    call()
                    wall = time.perf_counter_ns() - t0
                    ms[way].append(wall / 1e6)
                    if way == "function":
                        cpu[way].append((time.thread_time_ns() - c0) / 1e6)
                    elif way == "raw_http" and pid:
                        cpu["server_per_raw_call"].append((cpu_ns(pid) - s0 - idle * wall) / 1e6)
            row = {"api": api, "n": n, **{way: summary(v) for way, v in ms.items()},
                   "cpu_ms": {k: round(statistics.median(v), 1) for k, v in cpu.items() if v}}
            rows.append(row)
            print(json.dumps(row), flush=True)
        http.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    print(f"\n| endpoint | {' | '.join(f'{w} p50 / p90 / p99 (ms)' for w in WAYS)} | CPU ms: function / server |")
    print(f"|---|{'---|' * (len(WAYS) + 1)}")
    for r in rows:
        cells = [" / ".join(str(r[w][k]) for k in ("p50", "p90", "p99")) if w in r else "–" for w in WAYS]
        c = r["cpu_ms"]
        cells.append(f"{c.get('function', '–')} / {c.get('server_per_raw_call', '–')}")
        print(f"| {r['api']} | {' | '.join(cells)} |")
    print(f"\n{n} rounds per endpoint{' (p99 of fewer than 100 calls is the slowest)' if n < 100 else ''}; "
          f"{load_note()}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
