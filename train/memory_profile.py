"""Record each sentiment model's gradient profile over long validation reviews in its config.json, for the
app's "Long-term memory" view (the band behind the single example).

    python train/memory_profile.py zoo/checkpoints/imdb-rnn zoo/checkpoints/imdb-lstm ... --data ../shared/datasets/imdb

For every checkpoint: the first --texts validation reviews with at least --words words, each cut to its
first --words words; per word, log10 of the gradient norm over the last word's (zoo.memory.gradient_band);
the mean and the 10th/90th percentiles over the reviews go into config["memory"]["gradient"]. IMDB's
validation split is the one training holds out (tasks.sentiment.held_out_validation), so no test review is
read. Weights are not touched; config.json and the card are rewritten atomically. Prints one JSON line per
checkpoint.
"""
from __future__ import annotations

import argparse
import json
import sys

from zoo import interrupt

if __name__ == "__main__":
    interrupt.quiet_while_starting()  # Ctrl-C while the imports below load (2-4 s): one line, not a traceback

from tasks import sentiment
from zoo import cli, data, memory, registry, run_flags
from zoo.path_flag import path_flag
from zoo.card import DATASETS


@cli.script
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoints", nargs="+", help="sentiment checkpoint folders (rewritten in place)")
    p.add_argument("--data", default=DATASETS["imdb"]["hub_id"], type=path_flag, help="Hub id or local folder of the long-review dataset")
    p.add_argument("--texts", type=int, default=200, help="reviews to average over")
    p.add_argument("--words", type=int, default=80, help="words of each review read (the app's memory view reads 80)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = default)")
    args = p.parse_args(argv)
    run_flags.check(p, args)
    preds = {folder: cli.rewritable(folder, args.threads) for folder in args.checkpoints}  # all, before any work
    ds, source = data.load(args.data)  # DataUnavailable: one line, exit 2 (cli.script)
    sentiment.check_data(ds, args.data)  # another task's data: one line, not a KeyError
    for folder, pred in preds.items():
        if pred.config["task"] != sentiment.TASK:
            print(f"error: {folder} is a {pred.config['task']} checkpoint, not a sentiment one", file=sys.stderr)
            return 2
        val = sentiment.validation_of(ds, pred.config)  # the texts its run held out, by its own --val-size
        long = [t for t in val[sentiment.text_column(val)] if len(pred.words(t)) >= args.words][:args.texts]
        if not long:
            reads = pred.vectorize.max_len
            print(f"error: no validation text of {args.data} has {args.words} words as {folder} reads them"
                  + (f" (it reads the first {reads})" if reads and reads < args.words else "") + "; lower --words",
                  file=sys.stderr)
            return 2
        band = memory.gradient_band(pred, long, args.words)
        memory_record = {"gradient": {**band, "data": source.get("hub_id") or source.get("path"),
                                      "split": "validation", "note": "first reviews with enough words, cut"}}
        registry.rewrite_config(pred, {**pred.config, "memory": memory_record})
        print(json.dumps({"model": pred.name, "texts": band["texts"], "words": band["words"],
                          "quarter_ratio": float(f"{band['quarter_ratio']:.3g}")}))  # 8.31e-16 is not 0.0
    return 0


if __name__ == "__main__":
    sys.exit(main())
