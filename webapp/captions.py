"""The one-to-many tab's event function: one image in, each model's best captions (beam search) out.

The image is encoded once (all three decoders read the same EfficientNet-Lite0 feature) and each
decoder generates from it, so the time in each column is that decoder's own.
"""
from __future__ import annotations

import time
from importlib.resources import files

import gradio as gr
import torch

from . import models
from .logic import _header, _metric_line, _notice, lang_of
from .texts import say

MAX_BEAM = 10


def example_images() -> list[str]:
    """Real photos that an installed package ships (scikit-image's sample data): no Flickr8k image is
    bundled here, and nothing is downloaded."""
    try:
        data = files("skimage") / "data"
    except ModuleNotFoundError:
        return []
    return [str(data / n) for n in ("chelsea.png", "astronaut.png", "coffee.png", "motorcycle_left.png", "rocket.jpg")
            if (data / n).is_file()]


def _captions_markdown(hyps: list[dict]) -> str:
    return "\n".join(f"{i}. {h['caption']}  <small>({h['score']:.2f})</small>" for i, h in enumerate(hyps, 1))


@torch.inference_mode()  # no autograd bookkeeping at all (the predictors' no_grad still counts versions)
def caption(image, beam=3, request: gr.Request | None = None):
    """-> for rnn, lstm, bilstm: (captions markdown, card markdown); then a notice line."""
    lang = lang_of(request)
    if image is None or (isinstance(image, str) and not image.strip()):
        raise gr.Error(say("no_image", lang))
    try:
        beam = int(beam)
    except (TypeError, ValueError):
        raise gr.Error(say("bad_beam", lang, max=MAX_BEAM)) from None
    if not 1 <= beam <= MAX_BEAM:
        raise gr.Error(say("bad_beam", lang, max=MAX_BEAM))
    loaded = models.for_task("caption")
    ready = [p for p, _ in loaded.values() if p is not None]
    if not ready:
        raise gr.Error(say("no_models", lang, task="caption", why=next(iter(loaded.values()))[1]))
    features, out = {}, []
    t0 = time.perf_counter()
    try:
        for pred in ready:  # one encoding per image encoder (the bundled three share one)
            if pred.encoder not in features:
                features[pred.encoder] = pred.feature(image)
    except (ValueError, TypeError, OSError) as e:  # not an image, truncated, too large, ...
        raise gr.Error(say("bad_image", lang, why=str(e))) from None
    encode_ms = 1000 * (time.perf_counter() - t0)
    for arch, (pred, why) in loaded.items():
        name = f"caption-{arch}"
        if pred is None:
            out += ["", f"{_header(arch, name)}\n\n{say('missing', lang, why=why)}"]
            continue
        t0 = time.perf_counter()
        hyps = pred.predict(features[pred.encoder], beam=beam)
        ms = 1000 * (time.perf_counter() - t0)
        out += [_captions_markdown(hyps), f"{_header(arch, name)}\n\n{_metric_line(models.card(pred), lang, ms)}"]
    return (*out, _notice([say("encoded", lang, ms=encode_ms, beam=beam)]).replace("⚠️ ", ""))
