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
         "label column is Value("),
        ([{"sentence": "good", "label": 1}, {"sentence": None, "label": 0}], "row 1: no sentence"),
        ([{"sentence": "good", "label": 1}, {"sentence": "bad", "label": 5}], "row 1: label 5; a sentiment model"),
        ([{"sentence": "good", "label": 1}, {"sentence": "bad", "label": None}],  # pandas: a gap makes them floats
         "label column is Value('float64'); a sentiment model is scored on whole-number labels"),
        ([{"sentence": 3, "label": 1}, {"sentence": 4, "label": 0}], "sentence column is not text (Value('int64'))"),
    ],
    "ner-rnn": [
        ([{"tokens": ["Peter", "ran"], "ner_tags": [1, 0]}], "plain numbers without the list of tag names; a tagger needs"),
        ([{"tokens": ["Peter", "ran"], "ner_tags": ["B-PER", "O"]}], "tag strings without the list of tag names"),
        ([{"tokens": ["Peter", "ran"], "ner_tags": 1}], "one value a row; a tagger needs a list of tags a sentence"),
    ],
    "caption-lstm": [
        ([{FEATURE: [0.1] * 1280, **{f"caption_{i}": "a dog runs" for i in range(5)}},
          {FEATURE: [0.1] * 1280, **{f"caption_{i}": None for i in range(5)}}], "row 1 has no reference caption"),
        ([{FEATURE: [0.1] * 1280, "caption_0": "a dog"}, {FEATURE: [0.1] * 7, "caption_0": "a man"},
          {FEATURE: [0.2] * 1280, "caption_0": "a cat"}], f"row 1: its '{FEATURE}' feature has 7 values, most rows 1280"),
        ([{FEATURE: ["0.1", "x"], "caption_0": "a dog"}], "could not convert string to float"),  # NumPy's own words
    ],
}


@pytest.mark.parametrize("model,rows,said", [(m, r, s) for m, cases in CASES.items() for r, s in cases])
def test_data_a_model_cannot_be_scored_on_is_one_error_line_naming_the_problem(models, tmp_path, capsys, model, rows,
                                                                                said):
    assert main(["evaluate", str(models / model), "--data", _data(tmp_path / "d", rows), "--split", "test"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and said in err[0], err


def test_named_labels_with_one_missing_are_named_by_row_and_unsigned_labels_are_scored(models, tmp_path, capsys):
    from datasets import ClassLabel, Dataset, Features, Value
    for i, (feature, labels, rc) in enumerate(((ClassLabel(names=["neg", "pos"]), [1, None], 2), (Value("uint8"), [1, 0], 0))):
        ds = Dataset.from_dict({"sentence": ["good", "bad"], "label": labels},
                               features=Features({"sentence": Value("string"), "label": feature}))
        (tmp_path / str(i)).mkdir()
        ds.to_parquet(str(tmp_path / str(i) / "test.parquet"))
        capsys.readouterr()
        assert main(["evaluate", str(models / "sentiment-rnn"), "--data", str(tmp_path / str(i)), "--split", "test"]) == rc
        out = capsys.readouterr()
        assert ("row 1: no label" in out.err) if rc else '"examples": 2' in out.out, out


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


def test_a_folder_of_several_datasets_is_refused_by_name_and_layouts_datasets_reads_as_one_pass(models, tmp_path,
                                                                                                    capsys):
    """Two SST-2-shaped sets under one folder were merged and scored as one (their columns agree)."""
    rows = [{"sentence": "good", "label": 1}, {"sentence": "bad", "label": 0}]
    _data(tmp_path / "two" / "a", rows), _data(tmp_path / "two" / "b", rows)
    assert main(["evaluate", str(models / "sentiment-rnn"), "--data", str(tmp_path / "two"), "--split", "test"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'two'}: its test files sit in 2 folders, several datasets (a, b): pass one of them"]
    # layouts datasets reads as one dataset: split folders, a Hub parquet export's config folder with a split
    # no script reads, split-named folders, a folder itself named like a split with a stray file below
    for i, (root, files) in enumerate((("", ["data/train/part-0", "data/test/part-0"]),
                                       ("", ["plain_text/train/0000", "plain_text/test/0000", "plain_text/unsupervised/0000"]),
                                       ("", ["sst2_train/x", "sst2_test/x"]), ("val", ["train", "test", "extra/notes"]))):
        root = tmp_path / f"one{i}" / root
        for f in files:
            (root / f).parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(rows).to_parquet((root / f).with_suffix(".parquet"))
        assert main(["evaluate", str(models / "sentiment-rnn"), "--data", str(root), "--split", "test"]) == 0, files
        assert '"examples": 2' in capsys.readouterr().out


def test_a_split_with_no_rows_is_named(models, tmp_path, capsys):
    """datasets said only "BatchSize must be greater than 0" (ArrowInvalid) for an empty split."""
    (tmp_path / "d").mkdir()
    pd.DataFrame({"sentence": ["good"], "label": [1]}).to_parquet(tmp_path / "d" / "train.parquet")
    pd.DataFrame({"sentence": pd.Series([], dtype=str), "label": pd.Series([], dtype=int)}).to_parquet(
        tmp_path / "d" / "test.parquet")
    assert main(["evaluate", str(models / "sentiment-rnn"), "--data", str(tmp_path / "d"), "--split", "test"]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'd'}: its test split has no rows (test.parquet)"


def test_one_parquet_file_given_as_data_is_refused_saying_a_folder_is_wanted(models, tmp_path, capsys):
    """datasets said "Couldn't find any data file at" the file, which was there."""
    pd.DataFrame({"sentence": ["good"], "label": [1]}).to_parquet(tmp_path / "test.parquet")
    assert main(["evaluate", str(models / "sentiment-rnn"), "--data", str(tmp_path / "test.parquet"), "--split", "test"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {tmp_path / 'test.parquet'} is one file; give the dataset's folder"), err


def test_evaluate_asks_for_its_split_by_name_rather_than_scoring_test_by_default(models, tmp_path, capsys):
    """`evaluate NAME --data D` scored the test split: a test score while iterating, against "scored once"."""
    with pytest.raises(SystemExit) as stop:
        main(["evaluate", str(models / "sentiment-rnn"), "--data", str(tmp_path)])
    assert stop.value.code == 2 and "the following arguments are required: --split" in capsys.readouterr().err
