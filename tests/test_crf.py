"""The CRF's Viterbi decoding (zoo/crf.py): the best path of every sentence, cut to its length."""
from __future__ import annotations

import itertools

import torch

from zoo.crf import CRF


def _crf(k: int, seed: int) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(k)
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    return crf


def _path_score(crf, em, path) -> float:
    s = crf.start[path[0]] + em[0, path[0]] + crf.end[path[-1]]
    for t in range(1, len(path)):
        s = s + crf.transitions[path[t - 1], path[t]] + em[t, path[t]]
    return float(s.detach())


def _torch_viterbi(crf, emissions, mask):
    """The torch loop decode was written as before it moved to NumPy: the reference for ties."""
    B, T, K = emissions.shape
    score, back = crf.start + emissions[:, 0], []
    for t in range(1, T):
        best, idx = (score[:, :, None] + crf.transitions).max(dim=1)
        back.append(idx)
        score = torch.where(mask[:, t, None], best + emissions[:, t], score)
    score = score + crf.end
    paths = []
    for b in range(B):
        tag, path = int(score[b].argmax()), []
        path.append(tag)
        for t in range(int(mask[b].sum()) - 1, 0, -1):
            tag = int(back[t - 1][b, tag])
            path.append(tag)
        paths.append(path[::-1])
    return paths


def test_viterbi_finds_the_best_scoring_path_of_every_length_against_brute_force():
    crf, K = _crf(3, 0), 3
    lengths = [1, 2, 3, 5, 4]
    em = torch.randn(len(lengths), max(lengths), K)
    mask = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
    paths = crf.decode(em, lengths)
    for b, n in enumerate(lengths):
        assert len(paths[b]) == n
        best = max(itertools.product(range(K), repeat=n), key=lambda p: _path_score(crf, em[b], p))
        assert tuple(paths[b]) == best


def test_viterbi_breaks_ties_as_torch_max_does_first_index_wins():
    crf = CRF(4)  # all-zero transitions, integer emissions: many paths score the same
    em = torch.randint(0, 2, (6, 7, 4)).float()
    mask = torch.arange(7)[None, :] < torch.tensor([7, 1, 3, 6, 2, 7])[:, None]
    assert crf.decode(em, mask.sum(1)) == _torch_viterbi(crf, em, mask)


def test_one_sentence_takes_its_own_loop_and_finds_the_batch_loops_path():
    """decode at batch 1 (predict's case) runs _viterbi_one: the best path against brute force, ties broken
    as torch.max does, and the same path as the sentence decoded inside a batch."""
    crf, K = _crf(3, 1), 3
    for n in (1, 2, 5):
        em = torch.randn(1, n, K)
        best = max(itertools.product(range(K), repeat=n), key=lambda p: _path_score(crf, em[0], p))
        assert tuple(crf.decode(em, [n])[0]) == best
    tied = CRF(4)
    em = torch.randint(0, 2, (6, 7, 4)).float()
    mask = torch.arange(7)[None, :] < torch.tensor([7, 1, 3, 6, 2, 7])[:, None]
    alone = [tied.decode(em[b:b + 1], mask[b:b + 1].sum(1))[0] for b in range(6)]
    assert alone == _torch_viterbi(tied, em, mask) == tied.decode(em, mask.sum(1).tolist())


def test_decode_follows_transitions_changed_in_place_or_replaced():
    """decode keeps NumPy copies of the CRF's parameters; a change (an optimizer step, a load) makes new ones."""
    crf, em = CRF(3), torch.zeros(1, 4, 3)
    assert crf.decode(em, [4]) == [[0, 0, 0, 0]]
    with torch.no_grad():
        crf.transitions[0, 2] += 5.0  # in place, as an optimizer step
        crf.start[0] += 1.0
    assert crf.decode(em, [4]) == [[0, 2, 0, 2]] == crf.decode(em.expand(2, 4, 3), [4, 4])[:1]
    crf.load_state_dict({"start": torch.zeros(3), "end": torch.zeros(3), "transitions": torch.eye(3) * 3}, assign=True)
    assert crf.decode(em + torch.tensor([0.0, 0.0, 1.0]), [4]) == [[2, 2, 2, 2]]


def test_decode_sees_a_fused_optimizer_step_once_the_mode_changes():
    """A fused optimizer (zoo.training's Adam) changes the transitions without changing their version; the
    training loop's switch to eval() for validation drops decode's NumPy copies."""
    crf, em = CRF(3), torch.zeros(1, 4, 3)
    assert crf.decode(em, [4]) == [[0, 0, 0, 0]]
    opt = torch.optim.Adam(crf.parameters(), lr=1.0, fused=True)
    crf.train()
    crf.transitions.grad = torch.zeros(3, 3)
    crf.transitions.grad[0, 2] = crf.transitions.grad[2, 0] = -1.0  # Adam's first step: +lr where the grad is < 0
    crf.start.grad, crf.end.grad = torch.zeros(3), torch.zeros(3)
    opt.step()
    crf.eval()
    fresh = CRF(3)
    fresh.load_state_dict(crf.state_dict())  # the same parameters, nothing kept
    assert crf.decode(em, [4]) == fresh.decode(em, [4]) == [[2, 0, 2, 0]]  # 0 -> 2 and 2 -> 0 now pay
