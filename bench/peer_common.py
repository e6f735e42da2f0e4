"""What bench/peers.py and bench/peers_serving.py time with: alternating rounds, medians, a table, the CPU."""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zoo import cpu  # noqa: E402
from zoo.gcfreeze import gc_frozen  # noqa: E402


@gc_frozen
def race(programs: dict, rounds: int) -> dict[str, float]:
    """programs: name -> function running one pass. -> name -> median seconds of a pass.

    One warm-up pass each (not timed), then `rounds` rounds running the programs in turn, the order reversed
    every other round. The data, models and batches made so far are frozen out of the garbage collector's
    sight, for every program alike, as zoo.training.fit does while it trains (and unfrozen after)."""
    for f in programs.values():  # warm-up
        f()
    times = {k: [] for k in programs}
    for r in range(rounds):
        for k in (list(programs) if r % 2 == 0 else list(programs)[::-1]):
            t0 = time.perf_counter()
            programs[k]()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def table(title: str, med: dict, tokens: int, sentences: int, nbatch: int, epoch_tokens: int | None,
          pairs: list[tuple[str, str]]):
    print(f"\n{title}")
    print(f"| program | tokens/s | sentences/s | ms/batch |{' s/epoch (extrapolated) |' if epoch_tokens else ''}")
    print(f"|---|---:|---:|---:|{'---:|' if epoch_tokens else ''}")
    for k, s in med.items():
        row = f"| {k} | {tokens / s:,.0f} | {sentences / s:,.0f} | {1000 * s / nbatch:.1f} |"
        print(row + (f" {epoch_tokens / (tokens / s):,.0f} |" if epoch_tokens else ""))
    for a, b in pairs:
        print(f"ratio {a} / {b}: {med[b] / med[a]:.2f}x")


def cpu_name() -> str:
    try:
        return next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        import platform
        return platform.machine()


def machine_line(torch) -> str:
    """The line every peers run starts with: versions, threads, the CPU and the flags that decide precision."""
    import os
    return (f"torch {torch.__version__}, {torch.get_num_threads()} torch thread(s), OMP_NUM_THREADS="
            f"{os.environ.get('OMP_NUM_THREADS')}, {os.cpu_count()} CPUs, {cpu_name()}; {cpu.describe()}")


# ---------------------------------------------------------------- the peers, built once for every comparison
def flair_parts():
    import logging

    import flair
    import torch
    from flair.data import Dictionary, Sentence
    from flair.embeddings import OneHotEmbeddings
    from flair.models import SequenceTagger
    flair.device = torch.device("cpu")
    logging.getLogger("flair").setLevel(logging.WARNING)  # not its whole vocabulary on every tagger built
    return Dictionary, Sentence, OneHotEmbeddings, SequenceTagger


def flair_tagger(arch: str, rows: list, labels: list[str], hidden_size: int):
    """flair's SequenceTagger as a flair user builds one for CoNLL: OneHotEmbeddings (100-d) learned from the
    training words seen twice or more (rows: (tokens, tags) pairs), no CRF, no reprojection, BIO spans."""
    import torch
    from collections import Counter
    Dictionary, _, OneHotEmbeddings, SequenceTagger = flair_parts()
    vocab = Dictionary()
    for w, n in Counter(w for t, _ in rows for w in t).most_common():
        if n >= 2:
            vocab.add_item(w)
    tag_dict = Dictionary(add_unk=False)
    for lab in labels:
        if lab != "O":
            tag_dict.add_item(lab[2:])
    tag_dict.span_labels = True
    torch.manual_seed(1)
    return SequenceTagger(OneHotEmbeddings(vocab, embedding_length=100), tag_dict, "ner", hidden_size=hidden_size,
                          rnn_type="RNN" if arch == "rnn" else "LSTM", bidirectional=arch == "bilstm",
                          use_crf=False, reproject_embeddings=False, tag_format="BIO")


def keras_model(arch: str, vocab_size: int, dropout: float, hidden_size: int = 150):
    """Keras 3 (TensorFlow backend, one thread): Embedding(mask_zero) -> SimpleRNN / LSTM /
    Bidirectional(LSTM) -> Dense(2), compiled with Adam 2e-3 and global clip 5."""
    import keras
    import tensorflow as tf
    from keras import layers
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # set by an earlier call: TensorFlow refuses once it has started
        pass
    keras.utils.set_random_seed(1)
    rnn = {"rnn": lambda: layers.SimpleRNN(hidden_size), "lstm": lambda: layers.LSTM(hidden_size),
           "bilstm": lambda: layers.Bidirectional(layers.LSTM(hidden_size))}[arch]()
    inp = keras.Input((None,), dtype="int32")
    x = layers.Dropout(dropout)(layers.Embedding(vocab_size, 100, mask_zero=True)(inp))
    out = layers.Dense(2)(layers.Dropout(dropout)(rnn(x)))
    m = keras.Model(inp, out)
    m.compile(optimizer=keras.optimizers.Adam(2e-3, global_clipnorm=5.0),
              loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return m
