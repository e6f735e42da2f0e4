"""A linear-chain CRF output layer (Lample et al. 2016): scores whole tag sequences, not single tags.

A left-to-right tagger cannot see the word after a name; the CRF's tag-transition scores let the
sequence decision use what the next tags say (B-PER is followed by I-PER, never I-ORG).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .tensor_key import KeepsWeightResults, kept


class CRF(KeepsWeightResults):
    WEIGHT_RESULTS = ("_held_np",)  # _np_params' NumPy copies

    def __init__(self, num_tags: int):
        super().__init__()
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # [i, j]: score of tag i -> tag j

    def nll(self, emissions, tags, mask):
        """Mean negative log-likelihood. emissions (B, T, K), tags (B, T), mask (B, T) bool, mask[:, 0] all True."""
        B, T, K = emissions.shape
        maskf = mask.to(emissions.dtype)
        # score of the gold path
        em_gold = emissions.gather(2, tags[..., None]).squeeze(-1)  # (B, T)
        trans_gold = self.transitions[tags[:, :-1], tags[:, 1:]]  # (B, T-1)
        lengths = mask.sum(1)
        last_tag = tags.gather(1, (lengths - 1)[:, None]).squeeze(1)
        gold = self.start[tags[:, 0]] + (em_gold * maskf).sum(1) + (trans_gold * maskf[:, 1:]).sum(1) + self.end[last_tag]
        # log partition function by the forward algorithm
        alpha = self.start + emissions[:, 0]  # (B, K)
        for t in range(1, T):
            nxt = torch.logsumexp(alpha[:, :, None] + self.transitions + emissions[:, t, None, :], dim=1)
            alpha = torch.where(mask[:, t, None], nxt, alpha)
        log_z = torch.logsumexp(alpha + self.end, dim=1)
        return (log_z - gold).mean()

    def decode(self, emissions, lengths) -> list[list[int]]:
        """Viterbi: the best tag sequence of each sentence, cut to its length. emissions (B, T, K), lengths:
        the sentences' lengths (a list or a (B,) tensor).

        In NumPy: the loop runs T steps of (B, K, K) arrays with K = 9 tags, where each torch op's dispatch
        costs more than its arithmetic (a third of a sentence's prediction at batch 1). The same float32
        sums, and argmax keeps the first of equal scores as torch.max does, so the paths are the same. At
        batch 1 what follows the network's call is most of the Python time left, so it touches few objects:
        lengths rather than a mask, a NumPy view of the emissions and kept NumPy copies of the parameters."""
        B, T, K = emissions.shape
        lengths = lengths.tolist() if isinstance(lengths, torch.Tensor) else list(lengths)
        em = _np(emissions)  # (B, T, K)
        if B == 1:
            return [self.decode_one(em[0, :lengths[0]]) if lengths[0] else []]
        start, trans, _, end = self._np_params()  # (K,), (K, K), (K,)
        live = np.arange(T)[None, :] < np.asarray(lengths)[:, None]  # (B, T)
        score = start + em[:, 0]  # (B, K)
        back = np.empty((B, max(T - 1, 0), K), dtype=np.int64)
        all_live = live.all(0).tolist()  # (T,): steps where no sentence has ended, as every step at batch 1
        for t in range(1, T):
            cand = score[:, :, None] + trans  # (B, K from, K to)
            back[:, t - 1] = cand.argmax(1)  # (B, K)
            best = cand.max(1)
            best += em[:, t]
            score = best if all_live[t] else np.where(live[:, t, None], best, score)
        score = score + end
        best_last = score.argmax(1).tolist()
        back = back.tolist()  # (B, T-1, K)
        paths = []
        for b in range(B):
            tag = best_last[b]
            path = [tag]
            for t in range(lengths[b] - 1, 0, -1):
                tag = back[b][t - 1][tag]
                path.append(tag)
            paths.append(path[::-1])
        return paths

    def decode_one(self, emissions: np.ndarray) -> list[int]:
        """Viterbi for one sentence's emissions as a NumPy array (T, K), T >= 1: decode's path for it."""
        start, _, trans_to, end = self._np_params()
        return _viterbi_one(emissions, start, trans_to, end)

    def _np_params(self) -> tuple:
        """start, transitions, transitions transposed (a contiguous copy: [j, i] the score of i -> j) and end as
        NumPy arrays, kept and made again when a parameter changes (one key instead of four conversions per
        sentence at batch 1)."""
        def make():
            start, trans, end = (_np(p).copy() for p in params)
            return start, trans, np.ascontiguousarray(trans.T), end
        params = (self.start, self.transitions, self.end)
        return kept(self, "_held_np", params, make)


def _np(t: torch.Tensor) -> np.ndarray:
    """A float32 NumPy view of t: no copy for a CPU float32 tensor (at batch 1 each conversion costs as much
    as a step of the Viterbi loop)."""
    t = t.detach()
    return (t if t.dtype == torch.float32 and t.device.type == "cpu" else t.float().cpu()).numpy()


def _viterbi_one(em: np.ndarray, start: np.ndarray, trans_to: np.ndarray, end: np.ndarray) -> list[int]:
    """Viterbi for one sentence em (T, K), T >= 1, with trans_to[j, i] the score of tag i -> tag j: the batch
    loop's sums on (K to, K from) arrays, whose rows are what each next tag chooses among, with fewer and
    smaller NumPy calls per step (at batch 1 predict spends most of its Python time here)."""
    rows, score, back = np.arange(em.shape[1]), start + em[0], []
    for e in em[1:]:
        cand = trans_to + score  # (K to, K from): the same float32 sums as score[:, None] + trans
        idx = cand.argmax(1)  # (K,): the first best, as torch.max
        back.append(idx)
        score = cand[rows, idx]
        score += e
    tag = int((score + end).argmax())
    path = [tag]
    for idx in reversed(np.array(back).tolist() if back else []):
        tag = idx[tag]
        path.append(tag)
    return path[::-1]
