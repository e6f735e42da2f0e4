"""The "Shapes" tab: zoo.probe.layer_shapes (a real torch layer) written out as a walk-through."""
from __future__ import annotations

import gradio as gr

from zoo import probe
from zoo.whole import whole_number

from .logic import lang_of
from .texts import UI, toast

WORDS = {
    "en": {"stage": "stage", "shape": "shape", "means": "what the numbers are",
           "input": "input x", "input_m": "(batch, timesteps, input size)",
           "x_t": "x_t, one step's input", "x_t_m": "(batch, input size)",
           "h_t": "h_t, hidden state at each step", "h_t_m": "(batch, hidden size), per direction",
           "c_t": "c_t, cell state at each step", "c_t_m": "(batch, hidden size), LSTM only",
           "output": "outputs of every step", "output_m": "(batch, timesteps, directions × hidden)",
           "h_n": "final hidden state h_n", "h_n_m": "(directions, batch, hidden)",
           "result": "what the layer returns", "seq": "return_sequences: every step's output",
           "last": "the last state only (bidirectional: the forward state after the last word joined with the backward "
                   "state after the first)",
           "weights": "Weights (from the torch layer)", "params": "Parameters",
           "bias": "torch keeps two bias vectors per gate block, `bias_ih` and `bias_hh`; they are only ever "
                   "added together, so they act as Keras' single `b`. That is why torch counts "
                   "{extra:,} more ({dirs}·{gates}·{h}) than Keras for the same layer.",
           "gates": "The formula's factors: directions {dirs} · gate blocks {gates} (an LSTM has 4: i, f, g, o; a vanilla "
                    "RNN 1) · hidden {h} · (input {i} + hidden {h} + 1 bias).",
           "y": "output layer y", "y_m": "the note's binary task, \"y: 1\": `Dense(1, activation=\"sigmoid\")` on what "
                                       "the layer returns ({per})", "y_step": "one per step: many to many",
           "y_once": "one for the sequence: many to one",
           "head": "the output layer: {formula} = **{n:,}** (a weight per input and a bias)",
           "zoo_head": "The zoo's sentiment models end in 2 softmax units instead, `nn.Linear(D, 2)` on the recurrent "
                       "layer's final state (or, for some, the maximum of its outputs over the text) (2·(D + 1) "
                       "parameters: 302 for `sentiment-rnn`'s D = 150): the same decision, one more row of weights."},
    "ko": {"stage": "항목", "shape": "모양", "means": "숫자의 의미",
           "input": "입력 x", "input_m": "(배치, 시점 수, 입력 크기)",
           "x_t": "x_t, 한 시점의 입력", "x_t_m": "(배치, 입력 크기)",
           "h_t": "h_t, 각 시점의 은닉 상태", "h_t_m": "(배치, 은닉 상태 크기), 방향마다",
           "c_t": "c_t, 각 시점의 셀 상태", "c_t_m": "(배치, 은닉 상태 크기), LSTM만",
           "output": "모든 시점의 출력", "output_m": "(배치, 시점 수, 방향 수 × 은닉 상태 크기)",
           "h_n": "마지막 은닉 상태 h_n", "h_n_m": "(방향 수, 배치, 은닉 상태 크기)",
           "result": "레이어가 돌려주는 값", "seq": "return_sequences: 모든 시점의 출력",
           "last": "마지막 상태만 (양방향이면 앞 방향이 마지막 단어까지 읽은 상태와 뒤 방향이 첫 단어까지 읽은 상태를 이어 붙인 것)",
           "weights": "가중치 (torch 레이어에서 읽음)", "params": "파라미터 수",
           "bias": "torch는 게이트 묶음마다 편향 벡터를 두 개(`bias_ih`, `bias_hh`) 두지만 항상 더해서만 쓰므로 "
                   "Keras의 편향 `b` 하나와 같은 역할입니다. 그래서 같은 레이어라도 torch가 "
                   "{extra:,}개({dirs}·{gates}·{h}) 더 많이 셉니다.",
           "gates": "식의 인수: 방향 {dirs} · 게이트 블록 {gates}(LSTM은 i, f, g, o의 4개, 바닐라 RNN은 1개) · 은닉 {h} · "
                    "(입력 {i} + 은닉 {h} + 편향 1).",
           "y": "출력층 y", "y_m": "노트의 이진 분류 \"y: 1\": 레이어가 돌려준 값에 `Dense(1, activation=\"sigmoid\")` "
                                  "({per})", "y_step": "시점마다 하나: 다대다", "y_once": "시퀀스 전체에 하나: 다대일",
           "head": "출력층: {formula} = **{n:,}** (입력마다 가중치 하나와 편향 하나)",
           "zoo_head": "seqzoo의 감성 모델은 대신 softmax 유닛 2개로 끝납니다. 순환 레이어의 마지막 상태(일부 모델은 "
                       "텍스트 전체에 걸친 출력의 최댓값)에 `nn.Linear(D, 2)` (파라미터 2·(D + 1)개: `sentiment-rnn`의 "
                       "D = 150이면 302개): 같은 판단을 가중치 한 줄 더 써서 합니다."},
}


def _field(key: str, lang: str) -> str:
    """An input's name as its label on the page says it (입력 크기), for the error about it."""
    return UI.get(lang, UI["en"]).get(key, UI["en"][key])


def _int(value, name: str, lo: int, hi: int, lang: str = "en") -> int:
    """Number inputs arrive as float (or junk through the API): accept whole numbers in range only."""
    n = whole_number(value, lo, hi)
    if n is None:
        blank = value is None or (isinstance(value, str) and not value.strip())  # a cleared box: not "None"
        got = ("빈 칸" if lang == "ko" else "an empty box") if blank else repr(value)
        raise toast(f"{_field(name, lang)}: {lo}~{hi} 사이의 정수여야 합니다 (받은 값: {got})" if lang == "ko" else
                    f"{_field(name, lang)} must be a whole number from {lo} to {hi} (got {got})", lang)
    return n


def _flag(value, name: str, lang: str = "en") -> bool:
    """Checkbox inputs: true or false only (bool("false") is True, so nothing else is guessed at)."""
    if not isinstance(value, bool):
        raise toast(f"{_field(name, lang)}: true 또는 false여야 합니다 (받은 값: {value!r})" if lang == "ko" else
                    f"{_field(name, lang)} must be true or false (got {value!r})", lang)
    return value


def shapes(timesteps=2, input_size=10, hidden_size=3, cell="rnn", bidirectional=False,
           return_sequences=False, request: gr.Request | None = None) -> str:
    """-> markdown: each tensor's shape, the weight shapes and the parameter count with its formula."""
    lang = lang_of(request)
    w = WORDS[lang]
    t = _int(timesteps, "timesteps", 1, probe.MAX_SHAPE_STEPS, lang)
    i = _int(input_size, "input_size", 1, probe.MAX_SHAPE_SIZE, lang)
    h = _int(hidden_size, "hidden_size", 1, probe.MAX_SHAPE_SIZE, lang)
    if not isinstance(cell, str) or cell.lower() not in ("rnn", "lstm"):
        raise toast(f"셀은 'rnn' 또는 'lstm'이어야 합니다 (받은 값: {cell!r})" if lang == "ko" else
                    f"cell must be 'rnn' or 'lstm' (got {cell!r})", lang)
    cell, bidirectional, return_sequences = cell.lower(), _flag(bidirectional, "bidirectional", lang), \
        _flag(return_sequences, "return_sequences", lang)
    r = probe.layer_shapes(cell, t, i, h, bidirectional, return_sequences)
    fmt = lambda s: f"`{tuple(s)}`"
    rows = [(w["input"], r["input"], w["input_m"]), (w["x_t"], r["x_t"], w["x_t_m"]), (w["h_t"], r["h_t"], w["h_t_m"])]
    if r["c_t"]:
        rows.append((w["c_t"], r["c_t"], w["c_t_m"]))
    rows += [(w["output"], r["output"], w["output_m"]), (w["h_n"], r["h_n"], w["h_n_m"]),
             (f"**{w['result']}**", r["result"], w["seq"] if return_sequences else w["last"]),
             (w["y"], r["y"], w["y_m"].format(per=w["y_step"] if return_sequences else w["y_once"]))]
    table = [f"| {w['stage']} | {w['shape']} | {w['means']} |", "|---|---|---|"]
    table += [f"| {a} | {fmt(b)} | {c} |" for a, b, c in rows]
    weights = "\n".join(f"- `{name}`: {fmt(s)}" for name, s in r["weights"].items())
    layer = "SimpleRNN" if cell == "rnn" else "LSTM"
    keras = f"{layer}({h}, input_shape=({t}, {i}){', return_sequences=True' if return_sequences else ''})"
    keras = f"Bidirectional({keras.replace(f', input_shape=({t}, {i})', '')}, input_shape=({t}, {i}))" if bidirectional else keras
    torch_layer = f"nn.{'RNN' if cell == 'rnn' else 'LSTM'}({i}, {h}, batch_first=True{', bidirectional=True' if bidirectional else ''})"
    extra = r["torch_params"] - r["keras_params"]
    return "\n".join([
        f"**Keras:** `{keras}` · **torch:** `{torch_layer}`", "", *table, "",
        f"### {w['params']}",
        f"- Keras: {r['keras_formula']} = **{r['keras_params']:,}**",
        f"- torch: {r['torch_formula']} = **{r['torch_params']:,}** (`sum(p.numel() for p in layer.parameters())`)",
        f"- {w['head'].format(formula=r['head_formula'], n=r['head_params'])}",
        "", w["bias"].format(extra=extra, dirs=r["dirs"], gates=r["gates"], h=h),
        w["gates"].format(dirs=r["dirs"], gates=r["gates"], h=h, i=i), "", w["zoo_head"], "", f"**{w['weights']}**", "", weights])
