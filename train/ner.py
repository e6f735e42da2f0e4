"""Train a named-entity tagger (vanilla RNN, LSTM or BiLSTM) on CoNLL-2003.

    python train/ner.py --recipe ner-bilstm --data ../shared/datasets/conll2003 --threads 1
    python train/ner.py --recipe ner-lstm                 # the data from the Hugging Face Hub
    python train/ner.py --arch rnn --data ../shared/datasets/conll2003 --max-steps 20   # smoke run
    python train/ner.py --recipe ner-bilstm --data ../shared/datasets/conll2003 --resume  # after a crash or kill

Selects the epoch with the best validation F1, then scores the test split once and writes a
self-contained checkpoint (config.json, model.safetensors, tokenizer.json) to --out.
"""
from __future__ import annotations

import argparse
import sys

from zoo import interrupt

if __name__ == "__main__":
    interrupt.quiet_while_starting()  # Ctrl-C while the imports below load (2-4 s): one line, not a traceback

from tasks import ner
from zoo import cli, data, same_run, training


def parse_args(argv=None):
    p = cli.parser(__doc__, ner.TASK, ner.HUB_DATA)
    p.add_argument("--hidden-size", type=int, default=ner.NERConfig.hidden_size, help="hidden units per direction")
    p.add_argument("--word-dim", type=int, default=100, help="word embedding size")
    p.add_argument("--char-filters", type=int, default=50, help="character CNN filters (0: no character CNN)")
    p.add_argument("--casing-dim", type=int, default=8, help="casing feature size (0: none)")
    p.add_argument("--dropout", type=float, default=ner.NERConfig.dropout,
                   help="dropout probability on the word features and before the output layer")
    p.add_argument("--word-dropout", type=float, default=0.05, help="probability of replacing a training word by <unk>")
    p.add_argument("--min-word-freq", type=int, default=2, help="rarer training words are <unk>")
    p.add_argument("--crf", action=argparse.BooleanOptionalAction, default=True, help="CRF output layer")
    return cli.parse(p, argv, ner.TASK, training.TrainConfig(epochs=40, batch_size=32, lr=2e-3, patience=6))


@cli.script
def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = training.config_from_args(args)
    training.seed_everything(args.seed)
    ds, source = data.load(args.data)
    ner.check_data(ds, args.data)  # before the state folder exists: a run on the wrong data leaves nothing behind
    labels = ds["train"].features["ner_tags"].feature.names
    featurize = ner.Featurizer.fit(ds["train"]["tokens"], args.min_word_freq)
    train, val = ner.encode_split(ds["train"], featurize), ner.encode_split(ds["validation"], featurize)
    embedding = dict(word_dim=args.word_dim, char_filters=args.char_filters, casing_dim=args.casing_dim,
                     dropout=args.dropout, word_dropout=args.word_dropout)
    config = ner.make_config(args.arch, featurize, labels, embedding, data=source, name=args.name,
                             hidden_size=args.hidden_size, dropout=args.dropout, crf=args.crf)
    model = ner.build_model(config)
    cli.warn_if_no_words(featurize.tokenizer, "--min-word-freq")
    cli.check_size(args.name, model)
    state = same_run.state_folder(args, ds=ds)  # once nothing can refuse the run: a refused one leaves nothing behind
    cli.describe(args.name, model, f"vocabulary {len(featurize.word_ids):,} words", f"{len(train):,} training sentences")

    summary = training.fit(
        model, lambda epoch: (b for _, b in ner.batches(train, cfg.batch_size, True, training.epoch_seed(cfg, epoch))),
        lambda m: ner.evaluate(m, val, labels), config["metric"], cfg, count=lambda b: int(b["lengths"].sum()),
        log=cli.log, state=state, resume_run=args.resume)

    splits = {"validation": val, "test": ner.encode_split(ds["test"], featurize) if "test" in ds else None}
    return cli.finish(args, model, config, summary, lambda split: ner.evaluate(model, splits[split], labels),
                      [s for s in splits if splits[s] is not None], files={"tokenizer.json": featurize.tokenizer.to_str()})


if __name__ == "__main__":
    sys.exit(main())
