"""The app's side doors: every event it serves is in a table (a new one fails here until it is added), every
event that runs a model is in the one model queue group of 2 slots with its inputs unprocessed (the event
function checks them), gr.Examples only fill inputs, nothing runs outside the queue, and uploads reach
tasks.image_encoder's checks before anything decodes them. Served in-process with the tiny test models."""
import functools
import io
import json
import re
import sys
import threading
import time
from pathlib import Path

import gradio as gr
import httpx
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from png_samples import png  # noqa: E402
from test_app import NER_TEXT, server, tiny_models  # noqa: E402,F401  (the fixtures, shared)
from webapp import captions  # noqa: E402

# every event by api_name. "model": runs models, so one queue group of 2 slots and raw input; the others run no
# model: "copy" puts a tab's text into the inside tab's box (and chooses the model that reads it), "fill" is an example filling its inputs, "toggle"
# turns the direction choice on for a BiLSTM and off for the rest, "rows" hides the gate rows after a vanilla
# RNN's trace, "check" a tab's input checks before its two views run side by side; every "model", "check" and
# "shapes" event is followed on failure by a clear_after_failure (webapp.queue.clears_on_failure)
EVENTS = {
    "sentiment": "model", "sentiment_example_run": "model", "ner": "model", "ner_example_run": "model",
    "caption": "model", "caption_example_run": "model", "inside": "model", "memory": "model", "lifetime": "model",
    "distance_probe": "model", "what_if": "model", "cell_size": "model", "right_context": "model",
    "inside_caption": "model", "note_loop": "model",
    "follow_sentiment": "copy", "follow_ner": "copy", "follow_sentiment_1": "copy", "follow_ner_1": "copy",
    "sentiment_example": "fill", "ner_example": "fill", "caption_example": "fill",
    "decoder_example": "fill",
    "shapes": "shapes",  # builds one small torch layer (sizes checked by webapp.shapes)
    "two_way": "toggle", "two_way_1": "toggle", "gate_rows": "rows", "gate_rows_1": "rows",
    "check": "check", "check_1": "check",
    "clear_captions": "clear",  # a new photo empties the caption columns
    "hide_trace": "hide", "hide_trace_1": "hide",  # a new text, photo, model or direction hides the last trace
}
PUBLIC = {"/sentiment", "/ner", "/caption", "/inside", "/memory", "/lifetime", "/distance_probe", "/what_if",
          "/cell_size", "/right_context", "/inside_caption", "/note_loop", "/shapes"}


def _fns():
    import app
    return list(app.demo.fns.values() if isinstance(app.demo.fns, dict) else app.demo.fns)


def call(http, url, api, data, session="side-doors"):
    """One call through POST /gradio_api/call/<api>: -> ("complete" | "error", payload) or ("http", status)."""
    r = http.post(f"{url}gradio_api/call/{api}", json={"data": data, "session_hash": session})
    if r.status_code != 200:
        return "http", r.status_code
    event, result = None, None
    with http.stream("GET", f"{url}gradio_api/call/{api}/{r.json()['event_id']}") as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                result = (event, json.loads(line[5:]))
    return result


def upload(http, url, name, data: bytes) -> dict:
    r = http.post(f"{url}gradio_api/upload", files={"files": (name, data)})
    r.raise_for_status()
    return {"path": r.json()[0], "meta": {"_type": "gradio.FileData"}}


def test_the_api_names_the_app_lists_are_exactly_the_expected_ones(server):
    for params in ({}, {"all_endpoints": "true"}):  # documented, and undocumented-but-callable
        info = httpx.get(f"{server}gradio_api/info", params=params, timeout=60).json()
        assert set(info["named_endpoints"]) == PUBLIC, params
        assert info["unnamed_endpoints"] == {}, params


def test_every_event_is_in_the_table_and_every_model_event_in_the_one_queue_group_with_raw_input():
    seen, cleared = set(), set()
    fns = _fns()
    for fn in fns:
        if fn.fn is None:  # front-end only (js), runs nothing on the server
            continue
        if re.fullmatch(r"clear_after_failure(_\d+)?", fn.api_name):  # empties what the failed event answered before
            assert fn.trigger_only_on_failure and fn.queue is False and not fn.inputs and fn.api_visibility == "private"
            values = fn.fn() if len(fn.outputs) > 1 else [fn.fn()]
            assert all(v is None or v == {"__type__": "update", "visible": False} for v in values), fn.api_name
            cleared.add(fns[fn.trigger_after].api_name)
            continue
        kind = EVENTS.get(fn.api_name)
        assert kind, f"/{fn.api_name} ({fn.fn.__name__}) is not in the table: a new way in; add it, with its checks"
        seen.add(fn.api_name)
        if kind == "model":
            assert (fn.concurrency_id, fn.concurrency_limit) == ("models", 2), fn.api_name
            assert fn.preprocess is False, f"/{fn.api_name}: inputs are preprocessed before its own checks"
        elif kind == "copy":  # the text into the inside tab's box, and the model that reads it: runs none
            assert fn.fn.__name__ in ("follow_sentiment", "follow_ner") and fn.fn("x", *[None] * (len(fn.inputs) - 1))[0] == "x"
        elif kind == "fill":  # gr.Examples' loader: returns the example's values, unqueued, nothing run
            assert fn.fn.__name__ == "load_example" and fn.queue is False
        elif kind == "toggle":  # reads the model's name only, runs nothing
            assert fn.fn.__name__ == "two_way" and fn.fn("ner-bilstm")["interactive"] is True
            assert fn.fn("ner-lstm")["interactive"] is False and fn.fn(["x"])["interactive"] is False
            assert fn.fn("ner-lstm")["value"] == "forward"  # a greyed-out choice left on backward would stick there
        elif kind == "rows":  # reads the model's name only, runs nothing
            assert fn.fn.__name__ == "gate_rows" and {u["visible"] for u in fn.fn(["x"])} == {True}
        elif kind == "clear":  # empties its outputs, unqueued, reads nothing
            assert fn.fn() == [""] * len(fn.outputs) and fn.queue is False and not fn.inputs
        elif kind == "hide":  # a trace's notice or caption emptied, its heatmaps hidden: unqueued, reads nothing
            assert fn.fn()[0] == "" and all(u == {"__type__": "update", "visible": False} for u in fn.fn()[1:])
            assert fn.queue is False and not fn.inputs and len(fn.fn()) == len(fn.outputs)
        elif kind == "check":  # the input checks alone, raw input: an API caller's 42 is an error, not a crash
            assert fn.fn.__name__ == "check" and fn.preprocess is False
            with pytest.raises(gr.Error, match="Expected text"):
                fn.fn(42, "imdb" if fn.fn.__module__.endswith("memory_views") else "sentiment-lstm")
    assert seen == set(EVENTS)
    assert cleared == {name for name, kind in EVENTS.items() if kind in ("model", "check", "shapes")}


def test_example_runs_check_their_input_like_the_main_event_and_the_old_side_doors_are_gone(server):
    with httpx.Client(timeout=120) as http:
        for api in ("ner_example_run", "sentiment_example_run"):
            data = [42] if api.startswith("ner") else [42, "sst2"]
            event, payload = call(http, server, api, data)
            assert event == "error" and "Expected text (a string), got int" in payload["error"], api
    for api in ("ner_1", "sentiment_1", "caption_1"):  # gr.Examples' own runs (preprocessed, their own slots)
        with httpx.Client(timeout=120) as http:  # gradio answers an unknown name with a 500 and drops the connection
            assert call(http, server, api, [42]) == ("http", 500), api
    with httpx.Client(timeout=120) as http:  # a queued event cannot be run directly, outside the queue and its slots
        assert http.post(f"{server}gradio_api/run/ner", json={"data": [NER_TEXT]}).status_code == 404


def test_main_and_example_events_together_never_run_more_than_two_models_at_once(server, monkeypatch):
    active, peak, lock = [0], [0], threading.Lock()

    def counted(f):
        @functools.wraps(f)  # keeps the signature: gradio passes the request by it
        def run(*args, **kwargs):
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            try:
                # hold the slot until a second model runs too (or 3 s pass: the last may run alone), then a little
                # longer, so on a loaded machine as on an idle one the queue is seen full, and never fuller
                end = time.monotonic() + 3
                while active[0] < 2 and time.monotonic() < end:
                    time.sleep(0.02)
                time.sleep(0.3)
                return f(*args, **kwargs)
            finally:
                with lock:
                    active[0] -= 1
        return run

    for fn in _fns():
        if EVENTS.get(fn.api_name) == "model":
            monkeypatch.setattr(fn, "fn", counted(fn.fn))
    with httpx.Client(timeout=300) as http:
        image = upload(http, server, "photo.png", Path(captions.example_image()).read_bytes())
        calls = [("ner", [NER_TEXT]), ("ner_example_run", [NER_TEXT]), ("sentiment", ["a witty movie", "sst2"]),
                 ("sentiment_example_run", ["a witty movie", "imdb"]), ("caption", [image, 1]),
                 ("caption_example_run", [image, 1]), ("inside", [NER_TEXT, "ner-lstm", "forward"]),
                 ("memory", ["not bad at all", "sst2"])]
        results = [None] * len(calls)

        def one(i, api, data):
            results[i] = call(http, server, api, data, session=f"s{i}")
        threads = [threading.Thread(target=one, args=(i, *c)) for i, c in enumerate(calls)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert [r[0] for r in results] == ["complete"] * len(calls), results
    assert peak[0] == 2


@pytest.mark.parametrize("make,match", [
    pytest.param(lambda: png(20_000, 20_000, bit_depth=1), "decompression bomb", id="400-megapixel-bomb"),
    pytest.param(lambda: png(13_000, 13_000, bit_depth=1), "decompression bomb|pixels", id="169-megapixel-1-bit"),
    pytest.param(lambda: png(50_000_000, 1), "decoding it would take", id="50-million-by-1"),
    pytest.param(lambda: png(7000, 7000, bit_depth=16), "decoding it would take", id="7000-square-16-bit"),
    pytest.param(lambda: b"this is not an image", "not an image", id="not-an-image"),
])
def test_a_refused_upload_gets_a_clear_message_before_anything_decodes_it(server, monkeypatch, make, match):
    # gradio's own preprocessing (open, convert to RGB, re-encode) must not run at all
    monkeypatch.setattr("gradio.image_utils.preprocess_image", lambda *a, **k: pytest.fail("gradio preprocessed"))
    with httpx.Client(timeout=120) as http:
        image = upload(http, server, "upload.png", make())
        t0 = time.perf_counter()
        event, payload = call(http, server, "caption", [image, 3])
    assert event == "error" and payload["error"] and "cannot be captioned" in payload["error"]
    assert re.search(match, payload["error"]), payload["error"]
    assert time.perf_counter() - t0 < 10  # gradio's conversion of the 169-megapixel one took 12 s


def test_an_accepted_upload_is_captioned_without_gradio_decoding_it(server, monkeypatch):
    monkeypatch.setattr("gradio.image_utils.preprocess_image", lambda *a, **k: pytest.fail("gradio preprocessed"))
    with httpx.Client(timeout=300) as http:
        image = upload(http, server, "gray.png", png(64, 48))
        event, out = call(http, server, "caption", [image, 1])
    assert event == "complete" and out[0].startswith("1. ")


@pytest.mark.parametrize("value,match", [
    ({"path": "/etc/passwd"}, "not a file uploaded to this app"),
    ({"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}, "not uploaded by a user"),
    (42, "ImageData|image"),
    ({"path": None, "url": "data:image/png;base64,@@@"}, "not valid base64"),
])
def test_a_file_that_was_not_uploaded_or_is_not_a_file_is_refused_with_a_message(server, value, match):
    with httpx.Client(timeout=120) as http:
        event, payload = call(http, server, "caption", [value, 3])
    assert event == "error" and payload["error"] and re.search(match, payload["error"]), payload


def test_the_decoder_view_takes_its_upload_through_the_same_checks(server, monkeypatch):
    monkeypatch.setattr("gradio.image_utils.preprocess_image", lambda *a, **k: pytest.fail("gradio preprocessed"))
    with httpx.Client(timeout=300) as http:
        event, payload = call(http, server, "inside_caption", [{"path": "/etc/passwd"}, "caption-lstm", "forward"])
        assert event == "error" and "not a file uploaded to this app" in payload["error"]  # gradio had opened it
        bomb = upload(http, server, "bomb.png", png(20_000, 20_000, bit_depth=1))
        event, payload = call(http, server, "inside_caption", [bomb, "caption-lstm", "backward"])
        assert event == "error" and "decompression bomb" in payload["error"]
        event, payload = call(http, server, "inside_caption", [bomb, "caption-lstm", ["backward"]])
        assert event == "error" and "direction must be 'forward' or 'backward'" in payload["error"]


def test_an_image_sent_as_a_data_url_goes_through_the_same_checks():
    import base64
    ok = captions.upload({"path": None, "url": "data:image/png;base64," + base64.b64encode(png(8, 8)).decode()})
    assert Image.open(io.BytesIO(ok)).size == (8, 8)
    bomb = "data:image/png;base64," + base64.b64encode(png(20_000, 20_000, bit_depth=1)).decode()
    with pytest.raises(gr.Error, match="decompression bomb"):
        captions.caption(captions.upload({"path": None, "url": bomb}), 1)


def test_uploads_have_a_size_limit_and_are_deleted_after_an_hour(server):
    import app
    assert app.demo.max_file_size == 20 * 1024 * 1024 and app.demo.delete_cache == (600, 3600)
    with httpx.Client(timeout=120) as http:
        r = http.post(f"{server}gradio_api/upload", files={"files": ("big.png", b"\0" * (21 * 2**20))})
    assert r.status_code == 413 and "size" in r.text.lower()


@pytest.mark.parametrize("beam", [True, 2.5, "3", float("nan"), [3]])
def test_a_beam_that_is_not_a_whole_number_is_refused_not_rounded(beam):
    with pytest.raises(gr.Error, match="beam width"):
        captions.caption(captions.example_image(), beam)
