"""Inside a caption decoder while it writes: h, c and the gates at every generated word.

The predictor writes its best caption (beam search, as predict does); then each decoder is replayed through
the readable cells (zoo.cells.trace) from the state the image gave it, reading <bos> and the caption's words
as it did while writing. Column k is the step that wrote word k (the last column wrote <eos>). For
caption-bilstm both decoders: the forward one writes left to right, the backward one right to left.
"""
from __future__ import annotations

import torch

from zoo import cells

PARTS = ("h", "c") + cells.GATES


@torch.no_grad()
def trace_caption(predictor, image, beam: int | None = None) -> dict:
    """-> {"caption": the best caption, "decoders": {"forward": {"words": [w1 .. wn, "<eos>"], "h": (T, H), ...},
    "backward": ... (caption-bilstm only)}}; "c" and the gates for LSTM decoders only."""
    feature = predictor.feature(image)  # (1, F), checked
    best = predictor.predict(feature, beam=beam)[0]["caption"]
    model, vocab = predictor.model, predictor.vocab
    ids = vocab.word_ids(best.split())  # the caption's own tokens, as the decoder wrote them
    out = {"caption": best, "decoders": {}}
    for d, name in enumerate(("forward", "backward")[:model.cfg.directions]):
        seq = ids if d == 0 else ids[::-1]
        inputs = torch.tensor([[model.cfg.bos_id, *seq]])  # (1, T): what the decoder read at each step
        _, _, traces = cells.trace(model.decoders[d].rnn, model.embed(inputs), hx=model.start(d, feature))
        steps = {k: v[0] for k, v in traces[0].items() if k in PARTS}  # (T, H) each
        out["decoders"][name] = {"words": [vocab.itos[i] for i in seq] + ["<eos>"], **steps}
    return out
