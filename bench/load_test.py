"""Load on the web app: concurrent gradio_client users for a fixed time, mixing the three pattern tabs.

    python bench/load_test.py                          # 32 users, 60 s; serves app.py in a child process
    python bench/load_test.py --users 8 --seconds 20
    python bench/load_test.py --url http://127.0.0.1:7860/ --pid 12345   # a running app; --pid for its memory

Each user is a thread with its own Client that calls /sentiment, /ner and /caption in turn (users start at
different ones) as fast as the answers come back, until the time is up; a call started in time is waited
for. The server runs in its own process, so its resident memory (VmRSS from /proc, sampled every second)
is the server's alone, not the clients'. One warm-up call per endpoint comes first: model loading is not
what is measured. Prints one JSON line: requests, failed requests (and the first messages), latency
p50/p99 per endpoint and in all, requests/s, and the server's RSS at start, end and peak. Exit status 1
if any request failed. Requests go to loopback only.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from app_latency import CALLS, percentile, serve  # noqa: E402  (one set of request texts, one way to start the app, one percentile)

ENDPOINTS = ("/sentiment", "/ner", "/caption")
CALL_TIMEOUT_S = 300  # a request not answered by then counts as failed instead of hanging the run


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def call_args(api: str) -> tuple:
    args = CALLS[api]
    if args[0] == "EXAMPLE_IMAGE":
        from gradio_client import handle_file
        from webapp.captions import example_image
        args = (handle_file(example_image()), *args[1:])
    return args


def user(i: int, url: str, end: float, results: list, lock: threading.Lock) -> None:
    from gradio_client import Client
    try:
        client = Client(url, verbose=False)
    except Exception as e:  # a user that cannot even connect is a failed request
        with lock:
            results.append(("connect", 0.0, f"{type(e).__name__}: {e}"))
        return
    k = i
    while time.monotonic() < end:
        api = ENDPOINTS[k % len(ENDPOINTS)]
        k += 1
        t0 = time.perf_counter()
        try:
            client.submit(*call_args(api), api_name=api).result(timeout=CALL_TIMEOUT_S)
            error = None
        except Exception as e:
            error = f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
        with lock:
            results.append((api, 1000 * (time.perf_counter() - t0), error))


def ms1(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="a running app (default: start app.py in a child process)")
    p.add_argument("--pid", type=int, help="with --url: the server's process id, to sample its memory")
    p.add_argument("--users", type=int, default=32, help="concurrent users (1..256)")
    p.add_argument("--seconds", type=float, default=60.0, help="how long users keep sending requests")
    args = p.parse_args(argv)
    users = max(1, min(args.users, 256))
    from gradio_client import Client

    proc = None
    if args.url:
        url, pid = args.url, args.pid
    else:
        url, proc = serve(timeout=600)  # every model loads before the page: slow on a busy machine
        pid = proc.pid
    samples, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            if pid and (mb := rss_mb(pid)) is not None:
                samples.append(mb)
            stop.wait(1.0)

    try:
        ready_mb = rss_mb(pid) if pid else None
        warm = Client(url, verbose=False)
        for api in ENDPOINTS:  # loads what each tab loads lazily (the image encoder)
            warm.predict(*call_args(api), api_name=api)
        start_mb = rss_mb(pid) if pid else None
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        results, lock = [], threading.Lock()
        t0 = time.monotonic()
        end = t0 + args.seconds
        threads = [threading.Thread(target=user, args=(i, url, end, results, lock)) for i in range(users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        stop.set()
        sampler.join()
        end_mb = rss_mb(pid) if pid else None
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)

    failed = [r for r in results if r[2]]
    ok_ms = [ms for api, ms, err in results if not err]
    line = {"users": users, "seconds": args.seconds, "wall_seconds": round(wall, 1), "requests": len(results),
            "failed": len(failed), "requests_per_s": round(len(results) / wall, 2),
            "p50_ms": ms1(percentile(ok_ms, 50)), "p99_ms": ms1(percentile(ok_ms, 99)),
            "by_endpoint": {api: {"requests": sum(r[0] == api for r in results),
                                  "p50_ms": ms1(percentile([ms for a, ms, e in results if a == api and not e], 50)),
                                  "p99_ms": ms1(percentile([ms for a, ms, e in results if a == api and not e], 99))}
                            for api in ENDPOINTS},
            "server_rss_mb": None if start_mb is None else {
                "after_startup": round(ready_mb, 1), "start": round(start_mb, 1), "end": round(end_mb, 1),
                "peak": round(max(samples, default=start_mb), 1), "growth": round(end_mb - start_mb, 1)},
            "errors": sorted({r[2] for r in failed})[:5]}
    if ok_ms:
        line["mean_ms"] = round(statistics.fmean(ok_ms), 1)
    from zoo import cpu
    line["cpu"] = cpu.describe()
    print(json.dumps(line))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
