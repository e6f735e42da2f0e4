"""One recurrent encoder for the whole zoo: arch in {rnn, lstm, bilstm} over padded batches.

The three architectures differ only where they really differ: the cell (tanh RNN vs LSTM) and whether
a second LSTM reads the sentence right to left. Everything around them (embeddings, heads) is shared.

Three routes give the same numbers within float rounding (tests/test_encoder_and_checkpoint.py): packed
sequences; padded batches run one direction at a time, with each sequence reversed inside its own length for
the backward LSTM, so no direction ever reads padding before a real word; and the vanilla RNN's "steps" route
for inference, its input projections before the time loop (looked up from the embedder's projected tables
where it can: encode). On the CPU every batch takes the padded route: torch's backward through packed
sequences is about 5x slower there, and inference is faster padded too on batches of about equal lengths, as
predict_batch groups them: 1.43x (LSTM) and 1.29x (BiLSTM) over packed on batches of 64 with 20-24 words
(`python bench/encoder_routes.py --min-len 20 --max-len 24`). The vanilla RNN's inference batches take the
steps route, 1.52x over packed there; one sentence at inference goes through torch's own call (packed, with
nothing to pack), as do layers without their weights (torch.ao's dynamic quantization) and other devices.
"""
from __future__ import annotations

import bisect
import contextlib
import threading

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from . import cells, cpu
from .batching import live_mask
from .tensor_key import KeepsWeightResults, kept

ARCHS = ("rnn", "lstm", "bilstm")
ARCH_NAMES = {"rnn": "vanilla RNN", "lstm": "LSTM", "bilstm": "BiLSTM"}  # what people read, everywhere
INITS = ("keras", "torch")  # starting weights: reset_parameters, or nn.RNN/nn.LSTM's own uniform(+-1/sqrt(H))
_what_if = threading.local()  # per thread: the app's requests share one model and must not see each other's switch


@contextlib.contextmanager
def what_if(switch: str | None):
    """Inside this block, in this thread only, every RecurrentEncoder runs through the readable cells with a
    what-if switch (zoo.cells.SWITCHES) applied to every LSTM step: the same weights, one piece of the cell
    changed. switch=None changes nothing (the fused route, the model's exact output)."""
    if switch is not None and switch not in cells.SWITCHES:
        raise ValueError(f"unknown switch {switch!r}; choose one of {', '.join(cells.SWITCHES)}")
    before = getattr(_what_if, "switch", None)
    _what_if.switch = switch
    try:
        yield
    finally:
        _what_if.switch = before


def layer_params(rnn: nn.RNNBase, layer: int = 0, suffix: str = "") -> list[torch.Tensor]:
    """One direction of one layer of nn.RNN/nn.LSTM: its weight_ih, weight_hh, bias_ih, bias_hh (suffix
    "_reverse" for the backward direction)."""
    return [getattr(rnn, f"{w}_l{layer}{suffix}") for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]


def _zero_if_empty(final: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """final (B, D) with 0 for a sequence without words, as it reads from zeroed outputs (where outputs are
    not zeroed, at_last_word would give it the state after the first padding step)."""
    return final * (lengths > 0).to(final)[:, None]


def at_last_word(out: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """out (B, T, D) -> (B, D): each sequence's output at its last real word."""
    B = out.size(0)
    return out.gather(1, (lengths - 1).clamp(min=0).view(B, 1, 1).expand(B, 1, out.size(-1)))[:, 0]


def _last_states(u, w, first, segments, sigmoid: bool) -> torch.Tensor:
    """The steps route's last layer read for its final states alone, (B, H), its rows longest first: each row's
    state taken at the end of the segment where its sequence ends (no gather over every step afterwards). In
    the sigmoid form each step's g is out of place (a fresh (n, H): at 64 rows 1.16-1.27x faster a step than
    writing it into u on an AVX2 CPU) and h = 2g - 1 at the end; in the tanh form each step is in place (the
    faster there: bench/rnn_steps.py)."""
    final = u.new_empty(u.shape[1:])
    if sigmoid:
        g, step = torch.sigmoid(u[0] + first), lambda x, g: torch.addmm(x, g, w).sigmoid_()
    else:
        g, step = u[0].tanh_(), lambda x, g: x.addmm_(g, w).tanh_()
    for (t0, t1, n), n_after in zip(segments, [s[2] for s in segments[1:]] + [0]):
        g = g[:n]
        for x in u[max(t0, 1):t1, :n].unbind(0):
            g = step(x, g)  # (n, H)
        final[n_after:n] = g[n_after:n]  # rows n_after..n end at step t1 - 1
    return final.mul_(2).sub_(1) if sigmoid else final


def joined_final(out: torch.Tensor, lengths: torch.Tensor, hidden_size: int) -> torch.Tensor:
    """A bidirectional layer's outputs (B, T, 2H) -> its final state (B, 2H): the forward half after each
    sequence's last word joined with the backward half after its first, where the backward direction ends."""
    return torch.cat([at_last_word(out, lengths)[:, :hidden_size], out[:, 0, hidden_size:]], dim=-1)


class RecurrentEncoder(KeepsWeightResults):
    WEIGHT_RESULTS = ("_steps_copies", "_bf16_copies")  # _steps_weights'; zoo.precision's bf16 weights

    def __init__(self, arch: str, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0,
                 init: str = "keras"):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"unknown arch {arch!r}; choose one of {', '.join(ARCHS)}")
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
        self.arch = arch
        self.step_form = cpu.rnn_step_form()  # the steps route's nonlinearity on this CPU (zoo.cpu)
        self.bidirectional = arch == "bilstm"
        layer = nn.RNN if arch == "rnn" else nn.LSTM
        self.rnn = layer(input_size, hidden_size, num_layers, batch_first=True,
                         dropout=dropout if num_layers > 1 else 0.0, bidirectional=self.bidirectional)
        self.directions = 2 if self.bidirectional else 1
        self.output_size = hidden_size * self.directions
        if init == "keras":
            self.reset_parameters()

    def reset_parameters(self):
        """Keras's defaults rather than torch's uniform(+-1/sqrt(H)): Glorot-uniform input weights,
        orthogonal recurrent weights per gate, zero biases, and an LSTM forget-gate bias of 1, so the cell
        starts out remembering (Jozefowicz et al. 2015). With them (and small word vectors, zoo.embedding)
        an SST-2 LSTM reached 82.8% validation accuracy after one epoch instead of 78.9%."""
        H = self.rnn.hidden_size
        for name, p in self.rnn.named_parameters():
            with torch.no_grad():
                if name.startswith("weight_ih"):
                    nn.init.xavier_uniform_(p)
                elif name.startswith("weight_hh"):
                    for gate in p.split(H):  # (H, H) each
                        nn.init.orthogonal_(gate)
                else:
                    p.zero_()
                    if name.startswith("bias_ih") and isinstance(self.rnn, nn.LSTM):
                        p[H:2 * H] = 1.0  # torch's gate order: input, forget, cell, output

    def forward(self, x, lengths, route: str | None = None, outputs: bool = True):
        """x (B, T, I), lengths (B,) -> outputs (B, T, D) with zeros at padding, final (B, D).

        final is the last layer's state after each sequence's last real token; for the BiLSTM the
        forward state at the end joined with the backward state at the start. route: "packed",
        "padded", "steps" (the vanilla RNN in eval mode, without gradients) or None (_route: on the CPU
        steps for the RNN's inference on a batch outside autocast, packed for one sentence without
        gradients or a layer without its weights, else padded; packed on other devices). outputs=False: a
        reader of the final state alone (many-to-one) gets None for outputs, which are then neither zeroed at
        padding nor unpacked."""
        switch = getattr(_what_if, "switch", None)
        if switch is not None:
            out, final = self._cells(x, lengths, switch)
            return (out if outputs else None), final
        route = route or self._route(x.size(0), x.device)
        if route == "steps":
            if self.arch != "rnn" or torch.is_grad_enabled() or self.training:
                raise ValueError("the steps route is the vanilla RNN's, for inference (eval(), under torch.no_grad())")
            return self._rnn_steps(self._projected(x.transpose(0, 1), 0), lengths, outputs)
        return self._padded(x, lengths, outputs) if route == "padded" else self._packed(x, lengths, outputs)

    def encode(self, embed, batch, lengths, outputs: bool = True):
        """self(embed(batch), lengths, outputs=outputs) for a zoo.embedding.TokenEmbedder: -> (outputs (B, T, D)
        or None, final (B, D)).
        On the steps route the first layer's input projections are looked-up rows of the embedder's projected
        tables (embed.project), not a multiply of every batch's embeddings (docs/benchmarks.md, What was fixed)."""
        words = batch["words"]
        route = self._route(words.size(0), words.device)
        if route == "steps" and getattr(_what_if, "switch", None) is None:
            if self.step_form == "tanh":  # the layer's own weights: the tables follow them
                w_ih, _, b_ih, b_hh = layer_params(self.rnn, 0)
                return self._rnn_steps(embed.project(batch, w_ih, b_ih, b_hh), lengths, outputs)
            w_in, b_in, _, _ = self._steps_weights(0)
            return self._rnn_steps(embed.project(batch, w_in, b_in, key=layer_params(self.rnn, 0)), lengths, outputs)
        return self(embed(batch), lengths, route=route, outputs=outputs)

    def _route(self, batch_size: int, device: torch.device) -> str:
        """The route a call takes when none is asked for (see forward and the module's docstring)."""
        if device.type != "cpu" or (batch_size == 1 and not torch.is_grad_enabled()):
            return "packed"  # one sentence goes faster through torch's own call: no padding, fewer calls
        if not hasattr(self.rnn, "weight_hh_l0"):
            return "packed"  # a stand-in for the layer without its weights (torch.ao's dynamic quantization)
        if (self.arch == "rnn" and not torch.is_grad_enabled() and not self.training
                and not torch.is_autocast_enabled("cpu")):
            return "steps"
        return "padded"

    def _cells(self, x, lengths, switch):
        """The readable cells (zoo.cells.trace) with a what-if switch; the same (outputs, final) as the routes."""
        out, h_n, _ = cells.trace(self.rnn, x, lengths, switch=switch)
        return out, torch.cat(list(h_n[-self.directions:]), dim=-1)

    def _packed(self, x, lengths, outputs=True):
        if x.size(0) == 1 and int(lengths[0]) == x.size(1):  # one sentence, no padding: nothing to pack
            out, state = self.rnn(x)  # the same numbers; a quarter less time per call at batch 1
            h_n = state[0] if isinstance(state, tuple) else state
            return (out if outputs else None), torch.cat(list(h_n[-self.directions:]), dim=-1)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed)
        if outputs:
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))  # (B, T, D)
        h_n = state[0] if isinstance(state, tuple) else state  # (layers * directions, B, H)
        final = torch.cat(list(h_n[-self.directions:]), dim=-1)  # (B, D)
        return (out if outputs else None), final

    def _padded(self, x, lengths, outputs=True):
        lengths = lengths.to(x.device)
        T = x.size(1)
        live = live_mask(lengths, T)[..., None]  # (B, T, 1)
        inp = x
        last_layer = self.rnn.num_layers - 1
        for layer in range(self.rnn.num_layers):
            if layer and self.training and self.rnn.dropout:
                inp = nn.functional.dropout(inp, self.rnn.dropout)
            if self.bidirectional and not outputs and layer == last_layer:
                return None, _zero_if_empty(self._both_final(inp, lengths, layer), lengths)
            out = self._both_directions(inp, lengths, layer) if self.bidirectional else self._direction(inp, layer, "")
            inp = out * live if outputs or layer < last_layer else out  # (B, T, D); padding reads 0
        final = joined_final(inp, lengths, self.rnn.hidden_size) if self.bidirectional else at_last_word(inp, lengths)
        return (inp, final) if outputs else (None, _zero_if_empty(final, lengths))

    def _rnn_steps(self, u, lengths, outputs=True):
        """The vanilla RNN's inference route on the CPU, from its first layer's input projections u (T, B, H)
        (_steps_weights: all steps' in one multiply, or looked up: encode), consumed in place: one (B, H) x (H, H)
        multiply-add into each step's row and a nonlinearity, in place. In the step form this CPU takes
        (zoo.cpu.rnn_step_form), either tanh itself or, since tanh(z) = 2 sigmoid(2z) - 1, a sigmoid carrying
        g = sigmoid(2z) = (h + 1) / 2, with h = 2g - 1 made once at the end. Either gives the packed route's
        numbers within float rounding (the same tags and labels for the bundled models; bench/rnn_steps.py).
        Where the rows come longest first, as predict_batch's batches do, a step computes only the rows still
        inside their sequence (a prefix); otherwise every row. Outputs past a sequence's end are then zeroed,
        as padding reads 0 there, unless no one reads the outputs."""
        T, B = u.shape[:2]
        lens = lengths.tolist()
        # steps [t0, t1) during which the first n rows are live: one segment per distinct length
        segments, longest_first = [(0, T, B)], B > 1 and lens[-1] > 0 and all(a >= b for a, b in zip(lens, lens[1:]))
        if longest_first:
            up, ends = lens[::-1], sorted(set(lens))
            segments = [(start, end, B - bisect.bisect_left(up, end)) for start, end in zip([0] + ends, ends)]
        out, last, sigmoid = u, self.rnn.num_layers - 1, self.step_form == "sigmoid"
        act = torch.Tensor.sigmoid_ if sigmoid else torch.Tensor.tanh_
        for layer in range(self.rnn.num_layers):
            if layer:
                out = self._projected(out, layer)
            _, _, w, first = self._steps_weights(layer)
            if layer == last and not outputs and longest_first:
                return None, _last_states(out, w, first, segments, sigmoid)
            g = act(out[0].add_(first) if sigmoid else out[0])  # the state after step 0, from h = 0
            for t0, t1, n in segments:
                g = g[:n]
                for o in out[max(t0, 1):t1, :n].unbind(0):  # the segment's rows, made in one call
                    g = act(o.addmm_(g, w))  # (n, H)
            if outputs or layer < last:
                live = live_mask(lengths.to(out.device), T).t()[..., None].to(out.dtype)  # (T, B, 1)
                if sigmoid:
                    out.mul_(2 * live).sub_(live)  # h = 2g - 1, and 0 at padding
                else:
                    out.mul_(live)
        out = out.transpose(0, 1)  # (B, T, H)
        final = at_last_word(out, lengths)
        if outputs:
            return out, final
        return None, _zero_if_empty(final.mul_(2).sub_(1) if sigmoid else final, lengths)  # the last words' h

    def _steps_weights(self, layer):
        """A layer's weights in the steps route's form (step_form), made once and again when a weight changes.
        tanh: (W_ih, b_ih + b_hh, W_hh^T contiguous (a step's multiply-add is 20% faster than on a transposed
        view), None). sigmoid: with h = 2g - 1, 2z = 2 (x W_ih^T + b_ih + b_hh) + (2g - 1) 2 W_hh^T =
        x (2 W_ih^T) + 2 (b_ih + b_hh - W_hh 1) + g (4 W_hh^T). -> (2 W_ih, the bias 2 (b_ih + b_hh - W_hh 1),
        4 W_hh^T contiguous, 2 W_hh 1: what step 0, from h = 0, adds back)."""
        params = layer_params(self.rnn, layer)
        w_ih, w_hh, b_ih, b_hh = params

        def make():
            if self.step_form == "tanh":
                return w_ih, b_ih + b_hh, w_hh.t().contiguous(), None
            ones_w = w_hh.sum(1)  # (H,): W_hh 1, what h = -1 everywhere would add
            return 2 * w_ih, 2 * (b_ih + b_hh - ones_w), (4 * w_hh).t().contiguous(), 2 * ones_w
        return kept(self, "_steps_copies", params, make, slot=(layer, self.step_form))

    def _projected(self, x, layer):
        """x (T, B, I) -> every step's input projection of one layer in the steps route's form (_steps_weights),
        (T, B, H): one multiply for all steps."""
        w_in, b_in, _, _ = self._steps_weights(layer)
        T, B, _ = x.shape
        return torch.addmm(b_in, x.reshape(T * B, -1), w_in.t()).view(T, B, -1)

    def _both_directions(self, x, lengths, layer):
        """One bidirectional layer: the forward direction joined with the backward one, which reads each
        sequence reversed inside its own length. -> (B, T, 2H)"""
        back = self._direction(cells.reverse_within_length(x, lengths), layer, "_reverse")
        return torch.cat([self._direction(x, layer, ""), cells.reverse_within_length(back, lengths)], dim=-1)

    def _both_final(self, x, lengths, layer):
        """A last bidirectional layer's final state alone, (B, 2H): the forward direction's state after each
        sequence's last word joined with the backward one's after its first, which is where the backward
        direction ends reading the reversed sequence. Its outputs are neither reversed back nor joined."""
        back = self._direction(cells.reverse_within_length(x, lengths), layer, "_reverse")
        return torch.cat([at_last_word(self._direction(x, layer, ""), lengths), at_last_word(back, lengths)], dim=-1)

    def _direction(self, x, layer, suffix, params=None):
        """One direction of one layer through torch's fused kernel, from a zero state. -> (B, T, H). params:
        the layer's weights in another form (zoo.precision's bf16 copies), else its own."""
        params = params or layer_params(self.rnn, layer, suffix)
        h0 = x.new_zeros(1, x.size(0), self.rnn.hidden_size)
        if isinstance(self.rnn, nn.LSTM):
            return torch.lstm(x, (h0, h0), params, True, 1, 0.0, self.training, False, True)[0]
        return torch.rnn_tanh(x, h0, params, True, 1, 0.0, self.training, False, True)[0]

    def trace(self, x, lengths=None, switch: str | None = None):
        """The same computation through the readable cells, with every step's states and gates (switch: a
        what-if change to the cell, zoo.cells.SWITCHES)."""
        return cells.trace(self.rnn, x, lengths, switch=switch)
