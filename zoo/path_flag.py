"""A path given on the command line, as the commands' argparse type: '~' expanded, since bash leaves it alone
after '=' (`--out=~/exp` made a folder named '~' in the current one), and an empty one refused: Path('') is
the current folder, so `--input ''` captioned every photo there and `--data ''` scored whatever data files it
found. A Hub id ("eriktks/conll2003") and '-' (standard input or output) pass unchanged."""
from __future__ import annotations

import argparse
import os


def path_flag(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty: give a path")
    return os.path.expanduser(text)
