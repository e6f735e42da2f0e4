"""One recurrent encoder for the whole zoo: arch in {rnn, lstm, bilstm} over packed sequences.

The three architectures differ only where they really differ: the cell (tanh RNN vs LSTM) and whether
a second LSTM reads the sentence right to left. Everything around them (embeddings, heads) is shared.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from . import cells

ARCHS = ("rnn", "lstm", "bilstm")


class RecurrentEncoder(nn.Module):
    def __init__(self, arch: str, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"unknown arch {arch!r}; choose one of {', '.join(ARCHS)}")
        self.arch = arch
        self.bidirectional = arch == "bilstm"
        layer = nn.RNN if arch == "rnn" else nn.LSTM
        self.rnn = layer(input_size, hidden_size, num_layers, batch_first=True,
                         dropout=dropout if num_layers > 1 else 0.0, bidirectional=self.bidirectional)
        self.directions = 2 if self.bidirectional else 1
        self.output_size = hidden_size * self.directions

    def forward(self, x, lengths):
        """x (B, T, I), lengths (B,) -> outputs (B, T, D) with zeros at padding, final (B, D).

        final is the last layer's state after each sequence's last real token; for the BiLSTM the
        forward state at the end joined with the backward state at the start.
        """
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))  # (B, T, D)
        h_n = state[0] if isinstance(state, tuple) else state  # (layers * directions, B, H)
        final = torch.cat(list(h_n[-self.directions:]), dim=-1)  # (B, D)
        return out, final

    def trace(self, x, lengths=None):
        """The same computation through the readable cells, with every step's states and gates."""
        return cells.trace(self.rnn, x, lengths)
