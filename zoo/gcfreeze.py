"""gc_frozen: the garbage collector leaves the objects that already exist alone while a big job runs.

CPython's full collections walk every tracked object. A process that holds an encoded data set, or one
with torch, datasets and gradio loaded, has hundreds of thousands to millions of them, and a job that
allocates many small lists (featurizing a data set, predicting thousands of sentences) sets off full
collections that walk them all, again and again: NER featurizing for training ran 3.6x faster frozen,
and `predict_batch` on the 3,250 CoNLL-2003 validation sentences 1.35x (docs/benchmarks.md). gc.freeze()
moves every existing object to a generation no collection walks; objects made during the job are
collected as usual, and gc.unfreeze() gives the old ones back when the job ends. Both are O(1).

Thread-safe and nestable: the first job in freezes, the last one out unfreezes. gc.unfreeze() gives back
every frozen object, also any the caller froze itself with gc.freeze() (seqzoo's app and commands freeze
nothing else); asking whether the caller had (gc.get_freeze_count()) walks the whole frozen list, 20 ms
in a loaded process, too slow to ask per call.
"""
from __future__ import annotations

import functools
import gc
import threading

_lock = threading.Lock()
_running = 0  # jobs inside gc_frozen now, in any thread


def gc_frozen(f):
    @functools.wraps(f)
    def run(*args, **kwargs):
        global _running
        with _lock:
            if _running == 0:
                gc.freeze()
            _running += 1
        try:
            return f(*args, **kwargs)
        finally:
            with _lock:
                _running -= 1
                if _running == 0:
                    gc.unfreeze()
    return run
