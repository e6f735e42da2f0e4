"""What the bundled models answer on a fixed sample, as plain JSON-able values.

tests/fixtures/bundled_outputs.json holds these outputs as recorded before a refactor; the test in
test_bundled_outputs.py recomputes them, so a change that moves any bundled model's answer fails.
Regenerate (only when a model is re-bundled on purpose):
    python tests/bundled_outputs.py > tests/fixtures/bundled_outputs.json
"""
from __future__ import annotations

import json
import sys
from importlib.resources import files

import zoo

TEXTS = [
    "EU rejects German call to boycott British lamb .",
    "Peter Blackburn visited the Bank of Korea in Seoul on Monday.",
    "a gorgeous , witty , seductive movie .",
    "It is not a bad movie, but the acting was painfully dull and the plot made no sense at all.",
    "Angela Merkel said the European Commission would meet in Brussels.",
    "I loved every minute of it!",
]
IMAGES = ("chelsea.png", "astronaut.png", "coffee.png")


def outputs(name: str) -> list:
    p = zoo.load(name)
    task = p.config["task"]
    if task == "ner":
        return [[t["tag"] for t in p.predict(text)["tokens"]] for text in TEXTS]
    if task == "sentiment":
        return [p.predict(text)["positive"] for text in TEXTS]
    if task == "caption":
        return [[h["caption"] for h in p.predict(str(files("skimage") / "data" / img), beam=3)] for img in IMAGES]
    raise ValueError(task)


def bundled() -> list[str]:
    return zoo.list_models()


if __name__ == "__main__":
    json.dump({name: outputs(name) for name in bundled()}, sys.stdout, indent=1)
    print()
