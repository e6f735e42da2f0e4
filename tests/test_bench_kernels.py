"""The benchmarks' own kernels compute what they are compared with, so their timings compare like with like."""
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import handwritten_lstm  # noqa: E402


def test_handwritten_lstm_matches_torch_lstm_in_outputs_and_every_gradient():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(5, 4)
    x = torch.randn(7, 3, 5, requires_grad=True)  # (T, B, I)
    diff = handwritten_lstm.max_differences(lstm, x)
    assert diff["output"] < 1e-6 and diff["gradients"] < 1e-5


def test_handwritten_lstm_differs_when_its_gate_order_is_wrong():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(5, 4)
    x = torch.randn(7, 3, 5)
    wrong = handwritten_lstm.HandwrittenLSTM.apply(x, lstm.weight_ih_l0, lstm.weight_hh_l0,
                                                   lstm.bias_ih_l0 + lstm.bias_hh_l0)  # i, f, g, o unreordered
    assert (wrong - lstm(x)[0]).abs().max() > 1e-3  # so the comparison above can fail


def test_handwritten_lstm_benchmark_prints_one_json_line_per_shape(capsys):
    assert handwritten_lstm.main(["--shapes", "2x3,4x2", "--input", "5", "--hidden", "4", "--rounds", "1"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [(r["batch"], r["steps"]) for r in rows] == [(2, 3), (4, 2)]
    assert all(r["fused_ms"] > 0 and r["handwritten_ms"] > 0 for r in rows)
