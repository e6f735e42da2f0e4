"""Score LSTM checkpoints on validation with each what-if switch (zoo.cells.SWITCHES) and record the table in
their config.json, for the app's "Why the cell" tab (its what-if table).

    python train/what_if.py zoo/checkpoints/sentiment-lstm --data ../shared/datasets/sst2
    python train/what_if.py zoo/checkpoints/ner-lstm --data ../shared/datasets/conll2003
    python train/what_if.py zoo/checkpoints/imdb-lstm --data ../shared/datasets/imdb

The same trained weights run through the readable cells with one piece changed (the forget gate forced to
1 or 0, the input gate forced to 1, gate products replaced by sums, no tanh on the cell state); the
validation split only (IMDB: the part of train that training held out), never test. Weights are not
touched; config.json and the card are rewritten. Prints one JSON line per checkpoint.
"""
from __future__ import annotations

import argparse
import json
import sys

from zoo import interrupt

if __name__ == "__main__":
    interrupt.quiet_while_starting()  # Ctrl-C while the imports below load (2-4 s): one line, not a traceback

from tasks import sentiment
from zoo import cli, data, registry, run_flags, why
from zoo.path_flag import path_flag
from zoo.task_table import task_module


@cli.script
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoints", nargs="+", help="LSTM or BiLSTM text checkpoint folders of one task (rewritten in place)")
    p.add_argument("--data", required=True, type=path_flag, help="Hub id or local folder of the checkpoints' dataset")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = default)")
    args = p.parse_args(argv)
    run_flags.check(p, args)
    ds, _ = data.load(args.data)  # DataUnavailable: one line, exit 2 (cli.script)
    preds = {folder: cli.rewritable(folder, args.threads) for folder in args.checkpoints}  # all, before any work
    for folder, pred in preds.items():  # the switches live in the text encoders' cells, not a caption decoder's
        if pred.task not in ("sentiment", "ner"):
            print(f"error: {folder} is a {pred.task} checkpoint; the what-if switches are for the text models' "
                  "LSTM and BiLSTM encoders (sentiment, NER)", file=sys.stderr)
            return 2
    for task in dict.fromkeys(pred.task for pred in preds.values()):  # once a task, before any scoring
        check = getattr(task_module(task), "check_data", None)  # the text tasks': their own data, or one line
        if check:
            check(ds, args.data)
    for folder, pred in preds.items():
        # IMDB has no validation split: the texts this checkpoint's run held out, by its own --val-size
        val = sentiment.validation_of(ds, pred.config) if pred.task == "sentiment" else ds["validation"]
        try:
            scores = why.evaluate(pred, val)
        except ValueError as e:
            print(f"error: {folder}: {e}", file=sys.stderr)
            return 2
        metric = pred.config["metric"]
        record = {"split": "validation", "metric": metric, "scores": {k: m[metric] for k, m in scores.items()}}
        registry.rewrite_config(pred, {**pred.config, "what_if": record})
        print(json.dumps({"model": pred.name, **record}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
