"""python -m zoo evaluate on data that is not what a model is scored on: one `error:` line naming the column or
the first bad row, exit 2, as the training scripts say it (was a TypeError, AttributeError or a bare
AssertionError's traceback, or NumPy's and seqeval's messages over several lines)."""
import pandas as pd
import pytest

from zoo.__main__ import main

from test_predict_command import models  # noqa: F401  (the fixture: tiny checkpoints of every task)

FEATURE = "efficientnet_lite0"  # the tiny caption model's encoder, as the bundled ones'


def _data(folder, rows: list[dict]):
    folder.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(folder / "test.parquet")
    return str(folder)


CASES = {
    "sentiment-rnn": [
        ([{"sentence": "good", "label": "positive"}, {"sentence": "bad", "label": "negative"}],
         "the label column is Value("),
        ([{"sentence": "good", "label": 1}, {"sentence": None, "label": 0}], "row 1: the sentence is NoneType, not text"),
        ([{"sentence": "good", "label": 1}, {"sentence": "bad", "label": 5}], "row 1: label 5; a sentiment model"),
    ],
    "ner-rnn": [
        ([{"tokens": ["Peter", "ran"], "ner_tags": [1, 0]}], "ner_tags are plain numbers; a tagger is scored on named"),
    ],
    "caption-lstm": [
        ([{FEATURE: [0.1] * 1280, **{f"caption_{i}": "a dog runs" for i in range(5)}},
          {FEATURE: [0.1] * 1280, **{f"caption_{i}": None for i in range(5)}}], "row 1 has no reference caption"),
        ([{FEATURE: [0.1] * 1280, "caption_0": "a dog"}, {FEATURE: [0.1] * 7, "caption_0": "a man"}],
         f"row 1: its '{FEATURE}' feature has 7 values, the other rows 1280"),
    ],
}


@pytest.mark.parametrize("model,rows,said", [(m, r, s) for m, cases in CASES.items() for r, s in cases])
def test_data_a_model_cannot_be_scored_on_is_one_error_line_naming_the_problem(models, tmp_path, capsys, model, rows,
                                                                                said):
    assert main(["evaluate", str(models / model), "--data", _data(tmp_path / "d", rows), "--split", "test"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and said in err[0], err


def test_a_sentence_whose_tokens_and_tags_differ_in_number_is_named_by_its_row(models, tmp_path, capsys):
    from datasets import ClassLabel, Dataset, Features, Sequence, Value
    names = list(__import__("zoo").load(models / "ner-rnn").labels)
    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(ClassLabel(names=names))})
    ds = Dataset.from_dict({"tokens": [["Peter", "ran"], ["Paris", "is", "big"]], "ner_tags": [[1, 0], [5, 0]]},
                           features=features)
    (tmp_path / "d").mkdir()
    ds.to_parquet(str(tmp_path / "d" / "test.parquet"))
    capsys.readouterr()  # datasets' own bar while writing
    assert main(["evaluate", str(models / "ner-rnn"), "--data", str(tmp_path / "d"), "--split", "test"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "row 1: 3 tokens and 2 tags; each word needs its tag" in err[0], err


def test_a_folder_of_several_datasets_is_refused_by_name_and_splits_in_folders_of_their_own_are_one(models, tmp_path,
                                                                                                    capsys):
    """Two SST-2-shaped sets under one folder were merged and scored as one (their columns agree)."""
    rows = [{"sentence": "good", "label": 1}, {"sentence": "bad", "label": 0}]
    _data(tmp_path / "two" / "a", rows), _data(tmp_path / "two" / "b", rows)
    assert main(["evaluate", str(models / "sentiment-rnn"), "--data", str(tmp_path / "two"), "--split", "test"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'two'} holds the files of 2 datasets (a, b): pass one of their folders"]
    for split in ("train", "test"):  # data/train/, data/test/: one dataset, as datasets reads it
        (tmp_path / "one" / "data" / split).mkdir(parents=True)
        pd.DataFrame(rows).to_parquet(tmp_path / "one" / "data" / split / "part-0.parquet")
    (tmp_path / "one" / "dataset_infos.json").write_text("{}")  # metadata beside it is no dataset
    assert main(["evaluate", str(models / "sentiment-rnn"), "--data", str(tmp_path / "one"), "--split", "test"]) == 0
    assert '"examples": 2' in capsys.readouterr().out
