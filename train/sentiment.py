"""Train a sentiment classifier (vanilla RNN, LSTM or BiLSTM) on SST-2 or IMDB.

    python train/sentiment.py --recipe sentiment-bilstm --data ../shared/datasets/sst2 --threads 1
    python train/sentiment.py --recipe imdb-lstm --data ../shared/datasets/imdb --threads 1
    python train/sentiment.py --recipe sentiment-lstm        # the data from the Hugging Face Hub
    python train/sentiment.py --arch rnn --data ../shared/datasets/sst2 --max-steps 20       # smoke run
    python train/sentiment.py --recipe sentiment-bilstm --data ../shared/datasets/sst2 --resume  # after a crash

Selects the epoch (and, with --pool auto, the BiLSTM's pooling) with the best validation accuracy, then
scores the test split once and writes a self-contained checkpoint (config.json, model.safetensors,
tokenizer.json) to --out. IMDB has no validation split: one is carved off train with a fixed seed. The
Hub copy of SST-2 hides its test labels (-1): then only validation is reported.
"""
from __future__ import annotations

import sys

from zoo import interrupt

if __name__ == "__main__":
    interrupt.quiet_while_starting()  # Ctrl-C while the imports below load (2-4 s): one line, not a traceback

from tasks import sentiment
from zoo import cli, data, limits, run_flags, same_run, training
from zoo.encoder import INITS


def parse_args(argv=None):
    p = cli.parser(__doc__, sentiment.TASK, sentiment.HUB_DATA)
    p.add_argument("--max-len", type=int, default=0, help="read only the first N words of a text (0: all); e.g. 400 for IMDB")
    p.add_argument("--hidden-size", type=int, default=sentiment.SentimentConfig.hidden_size, help="hidden units per direction")
    p.add_argument("--word-dim", type=int, default=100, help="word embedding size")
    p.add_argument("--pool", choices=("auto", *sentiment.POOLS), default="auto",
                   help="what the output layer reads: final states, max over time of the outputs, or "
                        "auto (final for rnn/lstm; the BiLSTM trains both and keeps the better on validation)")
    p.add_argument("--dropout", type=float, default=sentiment.SentimentConfig.dropout,
                   help="dropout on the embeddings and before the output layer")
    p.add_argument("--init", choices=INITS, default="keras",
                   help="the recurrent layer's starting weights: Keras's (Glorot, orthogonal, forget bias 1) or torch's")
    p.add_argument("--word-init", choices=sentiment.WORD_INITS, default="small",
                   help="the word vectors' starting values: small (uniform +-0.05, Keras's) or normal (N(0, 1), torch's)")
    p.add_argument("--word-dropout", type=float, default=0.1, help="probability of replacing a training word by <unk>")
    p.add_argument("--min-word-freq", type=int, default=1, help="rarer training words are <unk>")
    p.add_argument("--max-vocab", type=int, default=10_000, help="keep at most N words, the most frequent (0: no cap); bounds the checkpoint size")
    p.add_argument("--val-size", type=int, default=2500, help="validation texts carved off train when the data has no validation split")
    args = cli.parse(p, argv, sentiment.TASK, training.TrainConfig(epochs=12, batch_size=64, lr=2e-3, patience=3))
    run_flags.check(p, args, {"max_len": (*limits.TOP_SIZES["max_len"], True)})
    return args


@cli.script
def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = training.config_from_args(args)
    ds, source = data.load(args.data)
    sentiment.check_data(ds, args.data, args.val_size)  # before the state folder exists: a run on the wrong data leaves nothing behind
    signature = same_run.data_signature(ds)  # the data as read, before validation is held out of train
    held = sentiment.held_out_validation(ds, args.val_size)  # IMDB has no validation split
    if held:
        source["validation"] = held
    col = sentiment.text_column(ds["train"])
    train_words = [sentiment.words(t, args.max_len) for t in ds["train"][col]]
    vectorize = sentiment.Vectorizer.fit(train_words, args.min_word_freq, args.max_vocab or None, args.max_len)
    train = [e for e, ws in zip(sentiment.encode_split(ds["train"], vectorize, train_words), train_words) if ws]
    val = sentiment.encode_split(ds["validation"], vectorize)
    test = sentiment.encode_split(ds["test"], vectorize) if "test" in ds else None
    note = None
    if test is not None and all(e["label"] < 0 for e in test):
        test, note = None, "the test split's labels are hidden (-1), as on the Hub: validation only, no test metrics"
        cli.log(f"note: {note}")

    embedding = dict(word_dim=args.word_dim, dropout=args.dropout, word_dropout=args.word_dropout)
    pools = list(sentiment.POOLS) if args.pool == "auto" and args.arch == "bilstm" else \
        ["final" if args.pool == "auto" else args.pool]
    def candidate(pool):
        config = sentiment.make_config(args.arch, vectorize, embedding, data=source, name=args.name,
                                       hidden_size=args.hidden_size, dropout=args.dropout, pool=pool, init=args.init,
                                       word_init=args.word_init)
        return config, sentiment.build_model(config)

    cli.warn_if_no_words(vectorize.tokenizer, "--min-word-freq and --max-vocab")
    cli.check_size(args.name, candidate(pools[0])[1])  # the candidates differ in pooling only, not in size
    state = same_run.state_folder(args, signature=signature)  # once nothing can refuse the run: a refused one leaves nothing
    runs = {}
    for pool in pools:  # same seed for each candidate, so only the pooling differs
        training.seed_everything(args.seed)
        config, model = candidate(pool)
        cli.describe(f"{args.name} ({pool})", model, f"vocabulary {len(vectorize.word_ids):,} words",
                     f"{len(train):,} training texts")
        # each candidate keeps its own state, so a resumed run skips a candidate already trained
        summary = training.fit(
            model, lambda epoch: (b for _, b in sentiment.batches(train, cfg.batch_size, True, training.epoch_seed(cfg, epoch))),
            lambda m: sentiment.evaluate(m, val), config["metric"], cfg, count=lambda b: int(b["lengths"].sum()),
            log=cli.log, state=state / pool, resume_run=args.resume)
        runs[pool] = (model, config, summary)
    # ties go to the first candidate, "final", the simpler reading
    pool = max(pools, key=lambda p: (runs[p][2]["validation"]["accuracy"], -pools.index(p)))
    model, config, summary = runs[pool]
    if len(pools) > 1:
        config["pool_selection"] = {"chosen": pool, "by": "best validation accuracy",
                                    "validation_accuracy": {p: runs[p][2]["validation"]["accuracy"] for p in pools}}
        cli.log(f"pool: {pool} ({config['pool_selection']['validation_accuracy']})")
    if note:
        config["note"] = note
    splits = {"validation": val, "test": test}
    return cli.finish(args, model, config, summary, lambda split: sentiment.evaluate(model, splits[split]),
                      [s for s in splits if splits[s] is not None], files={"tokenizer.json": vectorize.tokenizer.to_str()})


if __name__ == "__main__":
    sys.exit(main())
