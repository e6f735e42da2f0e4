"""Caption decoding: greedy, beam search, and the bidirectional rescoring of the BiLSTM, batched over images.

A decoder direction is used through two functions of CaptionModel: start(direction, features) -> state
and step(direction, tokens, state) -> (log-probs over the vocabulary, state); a state is a tensor or a
tuple of tensors with the batch in dimension 1 (torch's (layers, batch, hidden)).

Scores are log-probabilities summed over the generated tokens, <eos> included, and length-normalised as
sum / length ** alpha (alpha 0: raw sum, which favours short captions; alpha 1: mean per token).
"""
from __future__ import annotations

import torch


def reorder(state, index):
    """Pick the batch rows `index` of a state (tensor or tuple of tensors, batch in dim 1)."""
    return tuple(s.index_select(1, index) for s in state) if isinstance(state, tuple) else state.index_select(1, index)


def _ban(logp, banned):
    logp[:, banned] = -torch.inf  # <pad>, <unk> and <bos> are never generated
    return logp


def _cut(seq: list[int], eos: int) -> list[int]:
    return seq[:seq.index(eos)] if eos in seq else seq


@torch.no_grad()
def greedy(model, direction: int, features, max_len: int = 20) -> list[list[tuple]]:
    """The most probable next word at every step. -> per image [(word ids, log-prob, length)]."""
    B, cfg, dev = features.size(0), model.cfg, features.device
    state = model.start(direction, features)
    tokens = torch.full((B,), cfg.bos_id, dtype=torch.long, device=dev)
    total, length = torch.zeros(B, device=dev), torch.zeros(B, device=dev)
    done = torch.zeros(B, dtype=torch.bool, device=dev)
    out = []
    for _ in range(max_len):
        logp, state = model.step(direction, tokens, state)
        logp = _ban(logp, model.banned)
        best, tokens = logp.max(-1)
        total += torch.where(done, 0.0, best)
        length += (~done).float()
        out.append(tokens)
        done |= tokens == cfg.eos_id
        if done.all():
            break
    seqs = torch.stack(out, 1).tolist()
    return [[(_cut(s, cfg.eos_id), float(t), int(n))] for s, t, n in zip(seqs, total, length.clamp(min=1))]


@torch.no_grad()
def beam_search(model, direction: int, features, beam: int = 3, max_len: int = 20) -> list[list[tuple]]:
    """Keep the `beam` best partial captions of every image at each step (by summed log-prob); a finished
    one stays in the beam with its score. -> per image its hypotheses [(word ids, log-prob, length)].
    The length normalisation only ranks the final beam (see rank), so it is chosen without decoding again.
    beam=1 is exactly greedy."""
    cfg, dev = model.cfg, features.device
    B, V = features.size(0), cfg.vocab_size
    K = max(1, min(beam, V - len(model.banned) - 1))
    rows = torch.arange(B, device=dev).repeat_interleave(K)
    state = reorder(model.start(direction, features), rows)
    tokens = torch.full((B * K,), cfg.bos_id, dtype=torch.long, device=dev)
    scores = torch.full((B, K), -torch.inf, device=dev)
    scores[:, 0] = 0.0  # one live hypothesis per image at first, so the beam does not fill with copies
    seqs = torch.zeros(B * K, 0, dtype=torch.long, device=dev)
    finished = torch.zeros(B * K, dtype=torch.bool, device=dev)
    length = torch.zeros(B * K, device=dev)
    for _ in range(max_len):
        logp, state = model.step(direction, tokens, state)
        logp = _ban(logp, model.banned)
        logp[finished] = -torch.inf
        logp[finished, cfg.eos_id] = 0.0  # a finished caption carries on unchanged, at no cost
        top, idx = (scores.view(-1, 1) + logp).view(B, K * V).topk(K, dim=1)
        parent = (torch.arange(B, device=dev)[:, None] * K + idx // V).view(-1)
        word = (idx % V).view(-1)
        seqs = torch.cat([seqs[parent], word[:, None]], 1)
        length = length[parent] + (~finished[parent]).float()
        finished = finished[parent] | (word == cfg.eos_id)
        state, tokens, scores = reorder(state, parent), word, top
        if finished.all():
            break
    scores, length = scores.view(-1), length.clamp(min=1)
    return [[(_cut(seqs[i].tolist(), cfg.eos_id), float(scores[i]), int(length[i]))
             for i in range(b * K, (b + 1) * K) if torch.isfinite(scores[i])] for b in range(B)]


def rank(hyps: list[tuple], alpha: float) -> list[tuple]:
    """[(word ids, log-prob, length)] -> [(word ids, log-prob / length ** alpha)], best first."""
    return sorted(((ids, lp / n ** alpha) for ids, lp, n in hyps), key=lambda h: -h[1])


def decode(model, direction: int, features, beam: int, max_len: int):
    return greedy(model, direction, features, max_len) if beam <= 1 else \
        beam_search(model, direction, features, beam, max_len)


@torch.no_grad()
def candidates(model, features, beam: int = 3, max_len: int = 20) -> list[list[tuple]]:
    """Every candidate caption of a batch of image features, unranked. -> per image [(word ids, log-prob, length)].

    One direction: its greedy or beam hypotheses. Two directions (the BiLSTM, Wang et al. 2016): each
    decoder proposes its hypotheses (the backward ones reversed into reading order), both decoders score
    every candidate, and a candidate's log-prob is the mean of the two directions' log-probs.
    """
    model.eval()
    if len(model.decoders) == 1:
        return decode(model, 0, features, beam, max_len)
    fwd = decode(model, 0, features, beam, max_len)
    bwd = decode(model, 1, features, beam, max_len)
    cands = [list(dict.fromkeys([tuple(h[0]) for h in f] + [tuple(reversed(h[0])) for h in b]))
             for f, b in zip(fwd, bwd)]
    flat = [list(c) for cs in cands for c in cs]
    rows = torch.tensor([i for i, cs in enumerate(cands) for _ in cs], dtype=torch.long, device=features.device)
    both = (model.sequence_logprob(0, features[rows], flat) +
            model.sequence_logprob(1, features[rows], [list(reversed(s)) for s in flat])) / 2
    out, i = [], 0
    for cs in cands:
        out.append([(list(c), float(both[i + j]), len(c) + 1) for j, c in enumerate(cs)])  # + 1: <eos>
        i += len(cs)
    return out


def generate(model, features, beam: int = 3, max_len: int = 20, alpha: float = 0.0) -> list[list[tuple]]:
    """Captions for a batch of image features. -> per image [(word ids, log-prob / length ** alpha)], best first."""
    return [rank(h, alpha) for h in candidates(model, features, beam, max_len)]
