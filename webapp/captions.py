"""The one-to-many tab's event function: one image in, each model's best captions (beam search) out.

The image is encoded once (all three decoders read the same EfficientNet-Lite0 feature) and each
decoder generates from it, so the time in each column is that decoder's own.
"""
from __future__ import annotations

import base64
import binascii
import time
from importlib.resources import files
from pathlib import Path

import gradio as gr
import torch
from gradio import utils as gradio_utils

from tasks import image_encoder
from zoo.whole import whole_number

from . import models
from .logic import _header, _metric_line, _notice, lang_of
from .texts import bad_image, error, say

MAX_BEAM = 10
DEFAULT_BEAM = 3  # the caption tab's beam width when it opens


def example_images() -> list[str]:
    """Real photos that an installed package ships (scikit-image's sample data): no Flickr8k image is
    bundled here, and nothing is downloaded. The first, shown at the start, is a parked motorcycle, which all
    three models caption as a man riding a bike: they add the rider their training photos had (the caption
    tab's intro says so); a portrait of an astronaut, then the cat, the cup and the rocket, which Flickr8k almost
    never shows, come after."""
    try:
        data = files("skimage") / "data"
    except ModuleNotFoundError:
        return []
    return [str(data / n) for n in ("motorcycle_left.png", "astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg")
            if (data / n).is_file()]


TIMED_PHOTO = "chelsea.png"  # the photo bench/app_latency.py, load_test.py and hostile_load.py time (docs/app.md)


def example_image(name: str = TIMED_PHOTO) -> str:
    """One of example_images by its file name."""
    return next(p for p in example_images() if Path(p).name == name)


def _captions_markdown(hyps: list[dict], beam: int, max_len: int, lang: str) -> str:
    """The beam best captions, numbered, with their scores; one the predictor marks "truncated" (cut at max_len
    words, before its <eos>) says so."""
    def cut(h):
        return f" <small>({say('cut_at', lang, n=max_len)})</small>" if h.get("truncated") else ""
    return "\n".join(f"{i}. {h['caption']}  <small>({h['score']:.2f})</small>{cut(h)}"
                     for i, h in enumerate(hyps[:beam], 1))


def upload(value, lang: str = "en"):
    """The caption event's raw input -> what tasks.image_encoder opens, never opened here.

    The event runs with preprocess=False (webapp.ui), so gradio does not decode, convert and re-encode the
    upload before seqzoo's own checks (size, decompression bombs, decoded-size budget) can refuse it; a
    169-megapixel 1-bit PNG of 20 kB cost 12 s and +890 MB there. The value is then the JSON an API caller
    sent: an uploaded file's {"path": ...} (gradio has checked that a path with gradio's "meta" lies in its
    upload folder), or an image as a data: URL. A path outside gradio's upload folder is refused here too,
    so no caller can have a server file opened by naming it."""
    if value is None:
        raise error("no_image", lang)
    if not isinstance(value, dict):
        raise bad_image(f"expected an uploaded image file, got {type(value).__name__}", lang)
    path, url = value.get("path"), value.get("url")
    if path is None and isinstance(url, str) and url.startswith("data:"):
        head, _, data = url.partition(",")
        if ";base64" not in head or len(data) > 4 * image_encoder.MAX_FILE_BYTES // 3 + 4:
            raise bad_image(f"a data: URL must be base64, at most {image_encoder.MAX_FILE_BYTES:,} bytes", lang)
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise bad_image("the data: URL is not valid base64", lang) from None
    if not isinstance(path, str) or not path:
        raise error("no_image", lang)
    root = Path(gradio_utils.get_upload_folder()).resolve()
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(root):
        raise bad_image("not a file uploaded to this app", lang)
    return str(resolved)


def caption_upload(image, beam=DEFAULT_BEAM, request: gr.Request | None = None):
    """The caption event as the app serves it (raw input, see upload); caption does the rest."""
    return caption(upload(image, lang_of(request)), beam, request)


def _beam(beam, lang: str) -> int:
    """A whole number from 1 to MAX_BEAM; an API caller's True, 2.5 or "3" is refused, not rounded."""
    n = whole_number(beam, 1, MAX_BEAM)
    if n is None:
        raise error("bad_beam", lang, max=MAX_BEAM)
    return n


@torch.inference_mode()  # no autograd bookkeeping at all (the predictors' no_grad still counts versions)
def caption(image, beam=DEFAULT_BEAM, request: gr.Request | None = None):
    """-> for rnn, lstm, bilstm: (captions markdown, card markdown); then a notice line."""
    lang = lang_of(request)
    if image is None or (isinstance(image, str) and not image.strip()):
        raise error("no_image", lang)
    beam = _beam(beam, lang)
    loaded = models.for_task("caption")
    ready = [p for p, _ in loaded.values() if p is not None]
    if not ready:
        raise error("no_models", lang, task=say("task_caption", lang), why=next(iter(loaded.values()))[1])
    features, out = {}, []
    t0 = time.perf_counter()
    try:
        for pred in ready:  # one encoding per image encoder (the bundled three share one)
            if pred.encoder not in features:
                features[pred.encoder] = pred.feature(image)
    except (ValueError, TypeError, OSError) as e:  # not an image, truncated, too large, ...
        raise bad_image(str(e), lang) from None
    encode_ms = 1000 * (time.perf_counter() - t0)
    for arch, (pred, why) in loaded.items():
        name = f"caption-{arch}"
        if pred is None:
            out += ["", f"{_header(arch, name, lang)}\n\n{say('missing', lang, why=why)}"]
            continue
        t0 = time.perf_counter()
        hyps = pred.predict(features[pred.encoder], beam=beam)
        ms = 1000 * (time.perf_counter() - t0)
        out += [_captions_markdown(hyps, beam, pred.decode_cfg["max_len"], lang),
                f"{_header(arch, name, lang)}\n\n{_metric_line(models.card(pred), lang, ms)}"]
    return (*out, _notice([say("encoded", lang, ms=encode_ms, beam=beam)]).replace("⚠️ ", ""))
