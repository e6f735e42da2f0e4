"""Choose a caption checkpoint's beam width and length normalisation on validation, then score test once.

    python train/caption_decoding.py runs/caption-lstm --data ../shared/datasets/flickr8k
    python train/caption_decoding.py runs/caption-bilstm --data ../shared/datasets/flickr8k --beams 3,5,10

train/caption.py does this itself after training; this script does it again for a checkpoint that
exists, e.g. one trained before the beam width was chosen on validation. The weights are not touched:
config.json's decoding settings and metrics are rewritten, with a new model card, atomically.
"""
from __future__ import annotations

import argparse
import json
import sys

from zoo import interrupt

if __name__ == "__main__":
    interrupt.quiet_while_starting()  # Ctrl-C while the imports below load (2-4 s): one line, not a traceback

from tasks import caption, image_encoder
from zoo import cli, data, registry, run_flags
from zoo.path_flag import path_flag


def other_data(config: dict, refs: dict[str, list[list[str]]]) -> str | None:
    """Why splits (name -> each image's reference captions) are not those a checkpoint's metrics came from, or
    None: a split it was scored on is missing, a split's image count differs from the one recorded with its
    metrics, or a split's first references are not those recorded beside its example captions (whitespace
    and case aside). What a checkpoint does not record (counts, before they were kept) is not compared."""
    said = lambda rs: [" ".join(str(r).lower().split()) for r in rs or []]  # noqa: E731
    for name, metrics in (config.get("metrics") or {}).items():
        if not isinstance(metrics, dict) or name not in ("validation", "test"):
            continue
        if name not in refs:
            return f"it has no {name} split, which the checkpoint was scored on"
        n = metrics.get("images")
        if isinstance(n, int) and n != len(refs[name]):
            return f"its {name} split has {len(refs[name]):,} images, and the checkpoint was scored on {n:,}"
        recorded = [e.get("references") for e in metrics.get("examples") or [] if isinstance(e, dict)]
        if len(refs[name]) < len(recorded) or any(said(r) != said(now[:len(r or [])])
                                                  for r, now in zip(recorded, refs[name])):
            return f"the references of the first {name} examples in its config.json differ from its {name} split's"
    return None


@cli.script
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="a caption checkpoint folder (rewritten in place)")
    p.add_argument("--data", default=caption.HUB_DATA, type=path_flag, help="Hub id or local folder of the dataset")
    p.add_argument("--beams", default="1,3,5,10", help="beam widths tried on validation (default: %(default)s)")
    p.add_argument("--alphas", default="0,0.25,0.5,0.75,1",
                   help="length-normalisation exponents tried on validation (default: %(default)s)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = default)")
    args = p.parse_args(argv)
    run_flags.caption_decoding(p, args)
    run_flags.check(p, args)
    pred = cli.rewritable(args.checkpoint, args.threads)
    if pred.task != caption.TASK:
        print(f"error: {args.checkpoint} is a {pred.task} checkpoint, not a caption one", file=sys.stderr)
        return 2
    ds, _ = data.load(args.data)  # DataUnavailable: one line, exit 2 (cli.script)
    data.require(ds, args.data, splits=("validation",), columns=caption.CAPTION_COLUMNS[:1])
    config, d = dict(pred.config), dict(pred.decode_cfg)
    scored = [s for s in ("validation", "test") if s in ds]
    with caption.read_as_captions(args.data):
        for s in scored:  # what the data lacks first, then whether it is the checkpoint's
            image_encoder.require_features(ds[s], pred.encoder)
        # before any image feature is computed: the card would give other data's scores as its own
        why = other_data(pred.config, {s: caption.references(ds[s]) for s in scored})
        if why:
            raise data.DataUnavailable(f"{args.data}: not the data {args.checkpoint} was scored on ({why}); give "
                                       "the data it was trained on, or train on this data")
        splits = {s: caption.encode_split(ds[s], pred.vocab, pred.encoder) for s in scored}
    # the choice and its table made anew (an older table under another key would sit beside it); max_len kept
    config["decode"] = {"max_len": d["max_len"], **caption.decode_settings(pred.model, splits["validation"], pred.vocab,
                                                                          args.beams, args.alphas, d["max_len"])}
    best = config["decode"]
    print(f"validation BLEU-4 by decoding: {json.dumps(best)}", file=sys.stderr)
    config["metrics"] = {s: caption.evaluate(pred.model, split, pred.vocab, best["beam"], d["max_len"], best["alpha"])
                         for s, split in splits.items()}  # validation first, test once, at the end
    registry.rewrite_config(pred, config)
    print(json.dumps({"model": pred.name, "checkpoint": str(pred.folder), "decode": {k: best[k] for k in ("beam", "alpha")},
                      "metrics": {s: {k: v for k, v in m.items() if k != "examples"} for s, m in config["metrics"].items()}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
