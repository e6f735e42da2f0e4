"""The app under hostile load: peak server memory for the worst accepted and refused uploads, then many clients
mixing every API name the app serves, side doors included, with the model queue's high-water mark.

    python bench/hostile_load.py                       # 64 clients, 60 s; serves app.py in a child process
    python bench/hostile_load.py --clients 16 --seconds 20 --skip-memory

The server runs app.py's `demo` in its own process (so its memory is its own), with every event of the model
queue group wrapped in a counter that writes the most events it ever saw running at once to a file: the design
limit is 2 (webapp.queue.CONCURRENCY). Memory: the server's VmHWM is reset before each upload (Linux's
/proc/PID/clear_refs, "5"; else VmRSS is sampled every 5 ms) and read after it, against the idle server.
Load: each client is a thread with its own keep-alive HTTP connection that calls, in turn from a different
start, every name in CALLS through POST /gradio_api/call/<name> (and the two old side doors, which must be
refused), as fast as answers come. "failed" is anything but an answer or the refusal the table expects.
Prints the CPU flags line (lscpu) and one JSON line. Requests go to loopback only. Not a test: minutes of CPU.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import app_latency  # noqa: E402
from app_latency import NER_TEXT, SENT_TEXT, percentile  # noqa: E402
from png_samples import png  # noqa: E402

SERVER = """
import functools, os, sys, threading
sys.path.insert(0, {root!r})
import app
active, lock, path = [0, 0], threading.Lock(), os.environ["HIGH_WATER_FILE"]
def counted(f):
    @functools.wraps(f)
    def run(*args, **kwargs):
        with lock:
            active[0] += 1
            if active[0] > active[1]:
                active[1] = active[0]
                open(path, "w").write(str(active[1]))
        try:
            return f(*args, **kwargs)
        finally:
            with lock:
                active[0] -= 1
    return run
for fn in (app.demo.fns.values() if isinstance(app.demo.fns, dict) else app.demo.fns):
    if fn.concurrency_id == "models":
        fn.fn = counted(fn.fn)
app.launch()  # on GRADIO_SERVER_PORT
"""
IMAGE = "IMAGE"  # an uploaded photo (uploaded once per client, as a page would keep it)
CALLS = {  # every name the app serves -> its arguments; None: a side door that must be refused
    "sentiment": [SENT_TEXT, "sst2"], "sentiment_example_run": [SENT_TEXT, "imdb"], "ner": [NER_TEXT],
    "ner_example_run": [NER_TEXT], "caption": [IMAGE, 3], "caption_example_run": [IMAGE, 1],
    "inside": [NER_TEXT, "ner-lstm", "forward"], "memory": [SENT_TEXT, "sst2"], "lifetime": [SENT_TEXT, "sst2"],
    "distance_probe": ["sst2"], "what_if": [SENT_TEXT, "sentiment-lstm"], "cell_size": [NER_TEXT, "ner-bilstm"],
    "right_context": [NER_TEXT], "inside_caption": [IMAGE, "caption-lstm", "forward"],
    "note_loop": [SENT_TEXT, "sentiment-rnn"], "shapes": [2, 10, 3, "lstm", True, False],
    "sentiment_example": [0], "ner_example": [0], "caption_example": [0], "lambda": ["copied"],  # no model run
    "ner_1": None, "run/ner": None,  # gr.Examples' old run; a queued event outside the queue
}
REFUSED = {"ner_1": 500, "run/ner": 404}  # gradio's answer to an unknown name; api_open=False
FILL = {"sentiment_example", "ner_example", "caption_example"}  # unqueued: POST /gradio_api/run/<name>, as the page does
CALL_TIMEOUT_S = 600


def serve(high_water: Path, timeout: float = 900.0):
    """The app with every model event counted (SERVER), on a free loopback port; -> (url, process)."""
    return app_latency.serve(timeout, [sys.executable, "-c", SERVER.format(root=str(ROOT))],
                             {"HIGH_WATER_FILE": str(high_water)})


def status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


def call(http, url: str, name: str, data) -> tuple[str, str | None]:
    """-> (outcome, detail): "ok", "refused" (as REFUSED expects) or "failed". A REFUSED name is sent on a
    connection of its own: gradio drops the connection after its 500."""
    session = f"bench-{threading.get_ident()}"
    if name in REFUSED:
        route = "run/ner" if name == "run/ner" else f"call/{name}"
        with httpx.Client(timeout=60) as own:
            r = own.post(f"{url}gradio_api/{route}", json={"data": [NER_TEXT], "session_hash": session})
        return ("refused", None) if r.status_code == REFUSED[name] else ("failed", f"{name}: HTTP {r.status_code}")
    if name in FILL:
        r = http.post(f"{url}gradio_api/run/{name}", json={"data": data, "session_hash": session})
        return ("ok", None) if r.status_code == 200 else ("failed", f"{name}: HTTP {r.status_code} {r.text[:100]}")
    r = http.post(f"{url}gradio_api/call/{name}", json={"data": data, "session_hash": session})
    if r.status_code != 200:
        return "failed", f"{name}: HTTP {r.status_code} {r.text[:100]}"
    event = None
    with http.stream("GET", f"{url}gradio_api/call/{name}/{r.json()['event_id']}") as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                return ("ok", None) if event == "complete" else ("failed", f"{name}: {line[5:][:150]}")
    return "failed", f"{name}: no result"


def upload(http, url: str, name: str, data: bytes):
    r = http.post(f"{url}gradio_api/upload", files={"files": (name, data)})
    if r.status_code != 200:
        return r.status_code
    return {"path": r.json()[0], "meta": {"_type": "gradio.FileData"}}


def memory_phase(url: str, pid: int) -> dict:
    """Peak server memory above the idle server for each upload: accepted ones are captioned, refused ones
    answer a message (or, over 20 MB, gradio's 413)."""
    from PIL import Image
    import io
    buf = io.BytesIO()
    Image.new("L", (7000, 7000), 120).save(buf, "JPEG", quality=90)
    uploads = {  # name -> (file bytes, expected: "accepted" | "refused")
        "rgb-4096-square-png (64 MiB decoded: the budget)": (png(4096, 4096, color_type=2), "accepted"),
        "rgb-16000x1000-png (too thin to shrink)": (png(16_000, 1000, color_type=2), "accepted"),
        "rgba-2700-square-png": (png(2700, 2700, color_type=6), "accepted"),
        "gray-jpeg-7000-square (drafted to 1/8)": (buf.getvalue(), "accepted"),
        "bomb-1-bit-20000-square-png (400 MP)": (png(20_000, 20_000, bit_depth=1), "refused"),
        "1-bit-13000-square-png (169 MP, 20 kB)": (png(13_000, 13_000, bit_depth=1), "refused"),
        "gray-50000000x1-png": (png(50_000_000, 1), "refused"),
        "16-bit-7000-square-png": (png(7000, 7000, bit_depth=16), "refused"),
        "21-MB-upload": (b"\0" * (21 * 2**20), "refused"),
    }
    clear = Path(f"/proc/{pid}/clear_refs")
    out = {}
    with httpx.Client(timeout=CALL_TIMEOUT_S) as http:
        small = upload(http, url, "warm.png", png(64, 48, color_type=2))
        call(http, url, "caption", [small, 1])  # the image encoder loads on the first caption
        time.sleep(2)
        idle = status_mb(pid, "VmRSS")
        for name, (data, expected) in uploads.items():
            samples, stop = [], threading.Event()
            try:
                clear.write_text("5")  # reset the peak
                reset = True
            except OSError:
                reset = False

            def sample():
                while not stop.is_set():
                    samples.append(status_mb(pid, "VmRSS"))
                    stop.wait(0.005)
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            t0 = time.perf_counter()
            file = upload(http, url, "upload.png", data)
            outcome = ("refused", f"HTTP {file}") if isinstance(file, int) else call(http, url, "caption", [file, 1])
            seconds = time.perf_counter() - t0
            stop.set()
            sampler.join()
            peak = status_mb(pid, "VmHWM") if reset else max(samples, default=idle)
            got = "accepted" if outcome[0] == "ok" else "refused"
            out[name] = {"expected": expected, "got": got, "peak_above_idle_mb": round(peak - idle, 1),
                         "seconds": round(seconds, 2), "message": (outcome[1] or "")[:160]}
    return {"idle_rss_mb": round(idle, 1), "peak_measured_by": "VmHWM after clear_refs" if reset else "VmRSS every 5 ms",
            "uploads": out}


def client(i: int, url: str, end: float, results: list, lock: threading.Lock, photo: bytes) -> None:
    names = list(CALLS)
    with httpx.Client(timeout=CALL_TIMEOUT_S) as http:
        try:
            image = upload(http, url, "photo.png", photo)
        except httpx.HTTPError as e:
            with lock:
                results.append(("upload", 0.0, "failed", f"{type(e).__name__}: {e}"))
            return
        k = i
        while time.monotonic() < end:
            name = names[k % len(names)]
            k += 1
            data = None if CALLS[name] is None else [image if a == IMAGE else a for a in CALLS[name]]
            t0 = time.perf_counter()
            try:
                outcome, detail = call(http, url, name, data)
            except httpx.HTTPError as e:  # a timeout or a dropped connection counts as failed
                outcome, detail = "failed", f"{name}: {type(e).__name__}: {e}"
            with lock:
                results.append((name, 1000 * (time.perf_counter() - t0), outcome, detail))


def load_phase(url: str, clients: int, seconds: float) -> dict:
    from webapp.captions import example_image
    photo = Path(example_image()).read_bytes()
    results, lock = [], threading.Lock()
    end = time.monotonic() + seconds
    threads = [threading.Thread(target=client, args=(i, url, end, results, lock, photo)) for i in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - t0
    failed = [r for r in results if r[2] == "failed"]
    ok_ms = [ms for _, ms, outcome, _ in results if outcome == "ok"]
    return {"clients": clients, "seconds": seconds, "wall_seconds": round(wall, 1), "requests": len(results),
            "answered": len(ok_ms), "refused_as_designed": sum(r[2] == "refused" for r in results),
            "failed": len(failed), "errors": sorted({r[3] for r in failed})[:8],
            "p50_ms": round(percentile(ok_ms, 50) or 0, 1), "p99_ms": round(percentile(ok_ms, 99) or 0, 1),
            "by_name": {n: sum(r[0] == n for r in results) for n in CALLS}}


def cpu_flags() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "lscpu unavailable"
    return next((line.strip() for line in out.splitlines() if line.startswith("Flags")), "no Flags line")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=64, help="concurrent clients (1..256)")
    p.add_argument("--seconds", type=float, default=60.0, help="how long clients keep calling")
    p.add_argument("--skip-memory", action="store_true", help="only the load phase")
    args = p.parse_args(argv)
    print(cpu_flags())
    high_water = Path(tempfile.mkdtemp(prefix="seqzoo-bench-")) / "high_water"
    url, proc = serve(high_water)
    try:
        line = {"memory": None if args.skip_memory else memory_phase(url, proc.pid)}
        line["load"] = load_phase(url, max(1, min(args.clients, 256)), args.seconds)
        line["load"]["server_rss_mb_end"] = round(status_mb(proc.pid, "VmRSS"), 1)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    line["model_events_running_at_once_max"] = int(high_water.read_text()) if high_water.exists() else 0
    line["design_limit"] = 2
    print(json.dumps(line))
    memory_ok = args.skip_memory or all(u["got"] == u["expected"] and u["peak_above_idle_mb"] < 300
                                        for u in line["memory"]["uploads"].values())
    return 0 if memory_ok and line["load"]["failed"] == 0 and line["model_events_running_at_once_max"] <= 2 else 1


if __name__ == "__main__":
    sys.exit(main())
