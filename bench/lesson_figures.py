"""The seed note's lessons on the bundled models, as the figures and tables in docs/lessons.md.

    python bench/lesson_figures.py            # writes docs/img/*.png (--figures DIR: elsewhere), prints the tables

The same computations and plots as the app's "Long-term memory" and "Why the cell" tabs, on their default
inputs: the distance probe (accuracy at k = 0, 25, 50, 100, 150 words between the verdict and the end, for
the SST-2 and the IMDB models, verdict first and verdict last), the gradient view and the memory lifetime
on the memory tab's default review (imdb-*), and the cell state's size beside tanh(c_t) on the why tab's
default sentence; right context, word by word: the why tab's default sentence and how often each tagger revises a
tag after its word, over CoNLL-2003 validation (--data). The what-if table comes from each checkpoint's config.json
(train/what_if.py).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import zoo  # noqa: E402
from webapp import plots  # noqa: E402
from webapp.examples import MEMORY_EXAMPLE, RIGHT_EXAMPLE, WHY_EXAMPLE  # noqa: E402
from zoo import cells, data, memory, note, why  # noqa: E402
from zoo.encoder import ARCHS  # noqa: E402

OUT = ROOT / "docs" / "img"
DISTANCES = (0, 25, 50, 100, 150)
CONLL = ROOT.parent / "shared" / "datasets" / "conll2003"
# the why tab's right-context sentence and another of CoNLL-2003 validation (docs/lessons.md, section 3)
RIGHT_SENTENCES = (RIGHT_EXAMPLE, "the $ 1.2 million Greater Milwaukee Open at the par-71 ,")


def right_context(sentence: str) -> str:
    """Each word's tag when ner-lstm and ner-bilstm have read up to it -> its tag in the whole sentence (words
    tagged O both times left out)."""
    lines = [f"\n### right context on {sentence!r}: each word's tag when first read -> in the whole sentence\n"]
    for n in ("ner-lstm", "ner-bilstm"):
        words, rows = zoo.load(n).tags_by_prefix(sentence)
        lines.append(f"`{n}`: " + ", ".join(f"{w} {rows[i][i]} -> {rows[-1][i]}" for i, w in enumerate(words)
                                             if rows[i][i] != "O" or rows[-1][i] != "O"))
    return "\n".join(lines)


def revisions(pred, split) -> dict:
    """Each word's tag when the tagger has read up to it (tags_by_prefix, the row ending at the word) against its
    tag in the whole sentence, over a split with tokens and ner_tags: how many tags change once later words
    arrive, and of those how many go from wrong to right (fixed) and from right to wrong (broken)."""
    names = split.features["ner_tags"].feature.names
    words = changed = fixed = broken = 0
    for tokens, tags in zip(split["tokens"], split["ner_tags"]):
        if not tokens or len(tokens) > 60:  # tags_by_prefix's work grows with the square of the length
            continue
        _, rows = pred.tags_by_prefix(tokens)
        for i, gold in enumerate(names[t] for t in tags):
            first, final = rows[i][i], rows[-1][i]
            words += 1
            if first != final:
                changed += 1
                fixed += first != gold and final == gold
                broken += first == gold and final != gold
    return {"words": words, "changed": changed, "fixed": fixed, "broken": broken}


def table(result: dict) -> str:
    rows = ["| model | " + " | ".join(f"k = {k}" for k in result["distances"]) + " |",
            "|---" * (len(result["distances"]) + 1) + "|"]
    rows += [f"| `{name}` | " + " | ".join(f"{a:.1f}" for a in accs) + " |" for name, accs in result["accuracy"].items()]
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(CONLL) if CONLL.is_dir() else "eriktks/conll2003",
                   help="CoNLL-2003 (a local folder or the Hub id) for the right-context counts")
    p.add_argument("--figures", default=str(OUT), help="where the figures are written (default: docs/img, "
                   "replacing the ones the docs show)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.figures)
    out.mkdir(parents=True, exist_ok=True)
    for prefix in ("sentiment", "imdb"):
        preds = {f"{prefix}-{a}": zoo.load(f"{prefix}-{a}") for a in ARCHS}
        first = memory.distance_probe(preds, DISTANCES)
        last = memory.distance_probe(preds, DISTANCES, order="cue_last")
        print(f"\n### distance probe, {prefix}-*: verdict first\n\n{table(first)}\n\nverdict last (control)\n\n{table(last)}")
        plots.distance(first, last).savefig(out / f"distance-{prefix}.png", dpi=110)
    imdb = {a: zoo.load(f"imdb-{a}") for a in ARCHS}
    profiles = {a: memory.gradient_profile(p, MEMORY_EXAMPLE) for a, p in imdb.items()}
    words = profiles["rnn"]["words"]
    bands = {a: p.config.get("memory", {}).get("gradient") for a, p in imdb.items()}
    plots.gradient_profiles(words, {a: g["ratio"] for a, g in profiles.items()}, bands).savefig(out / "memory-gradient.png", dpi=110)
    print("\n### gradient view, the memory tab's default review: first-quarter mean over last-quarter mean\n")
    print("| model | this review | validation reviews (mean profile) |\n|---|---|---|")
    for a, g in profiles.items():
        band = bands[a]["quarter_ratio"] if bands[a] else float("nan")
        print(f"| `imdb-{a}` | {memory.quarter_ratio(g['ratio']):.2e} | {band:.2e} |")
    print(f"\n`imdb-rnn`: its first word's gradient {profiles['rnn']['ratio'][0]:.2e} of its last word's, its smallest "
          f"{min(profiles['rnn']['ratio']):.2e}")
    lives = {a: memory.lifetime(p, MEMORY_EXAMPLE) for a, p in imdb.items()}
    plots.lifetimes(words, lives).savefig(out / "memory-lifetime.png", dpi=110)
    print("\n### memory lifetime of the first word, the memory tab's default review\n")
    for a, life in lives.items():
        print(f"`imdb-{a}`: " + (f"median unit {life['median'][0]:.2e}, 90th-percentile unit {life['top_decile'][0]:.2f}"
                                 if life["kind"] == "forget" else f"|d h_T / d h_1| {life['norm'][0]:.2e}"))
    m = why.cell_magnitudes(zoo.load("sentiment-lstm"), WHY_EXAMPLE)
    plots.cell_size(m, "sentiment-lstm").savefig(out / "cell-size.png", dpi=110)
    print(f"\n### cell state size on {WHY_EXAMPLE!r} (sentiment-lstm)\n\nmax |c_t| {max(m['c_max']):.2f}, "
          f"max |tanh(c_t)| {max(m['tanh_c_max']):.3f}, max |h_t| {max(m['h_max']):.3f}; with the gates added (switch "
          f"add) max |c_t| from {m['c_max_add'][0]:.1f} at the first word to {m['c_max_add'][-1]:.1f} at the last")
    print(f"\n### what-if switches on {WHY_EXAMPLE!r} (the why tab's default sentence)\n")
    print("| model | " + " | ".join(["none", *cells.SWITCHES]) + " |\n|---|" + "---|" * (1 + len(cells.SWITCHES)))
    for n in ("sentiment-lstm", "sentiment-bilstm"):
        answers = why.what_if(zoo.load(n), WHY_EXAMPLE)
        print(f"| `{n}` | " + " | ".join(f"{a['label']} {a[a['label']]:.2f}" for a in answers.values()) + " |")
    print("\n### what-if switches, validation scores (config.json, train/what_if.py)\n")
    names = [n for n in zoo.list_models() if "what_if" in zoo.load(n).config]
    keys = list(zoo.load(names[0]).config["what_if"]["scores"]) if names else []
    print("| model | metric | " + " | ".join(keys) + " |\n|---|---|" + "---|" * len(keys))
    for n in names:
        w = zoo.load(n).config["what_if"]
        print(f"| `{n}` | {w['metric']} | " + " | ".join(f"{w['scores'][k]:.2f}" for k in keys) + " |")
    for sentence in RIGHT_SENTENCES:
        print(right_context(sentence))
    split = data.load(args.data)[0]["validation"]
    print(f"\n### tags revised after their word, {args.data} validation (sentences up to 60 words)\n")
    print("| model | words | tags changed | wrong -> right | right -> wrong |\n|---|---|---|---|---|")
    for n in ("ner-rnn", "ner-lstm", "ner-bilstm"):
        r = revisions(zoo.load(n), split)
        print(f"| `{n}` | {r['words']:,} | {r['changed']:,} ({100 * r['changed'] / r['words']:.2f}%) | {r['fixed']:,} | "
              f"{r['broken']:,} |")
    loop = note.run(zoo.load("sentiment-rnn"), WHY_EXAMPLE)
    print(f"\n### the note's NumPy loop on sentiment-rnn's weights, {WHY_EXAMPLE!r}\n\nlargest difference from "
          f"the model's encoder {loop['max_abs_diff']:.1e}")
    print(f"\nfigures in {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
