"""The model card (README.md) of a checkpoint, generated from its config.json.

The YAML front matter is the metadata the Hugging Face Hub indexes (library, tags, datasets, license,
and a model-index holding the metrics config.json records); the body says what the model is, how it
scores, the exact command that trained it, and how to load it. Nothing here is written by hand, so a
card cannot disagree with the checkpoint it describes.
"""
from __future__ import annotations

import json
import re

import yaml

from .encoder import ARCH_NAMES
from .task_table import task_module

# What each dataset's Hub card says about use; weights trained on the data inherit these terms.
# key: the dataset's name with punctuation dropped, as found in config["data"] (a Hub id or a local folder)
DATASETS = {
    "conll2003": dict(
        hub_id="eriktks/conll2003", name="CoNLL-2003", license="other", license_name="conll-2003-research-only",
        note="CoNLL-2003 is built from the Reuters Corpus (RCV1), which is licensed for research use only. "
             "These weights are derived from it: use them for research only."),
    "sst2": dict(
        hub_id="stanfordnlp/sst2", name="SST-2", license="unknown", license_name=None,
        note="SST-2 (Stanford Sentiment Treebank, Socher et al. 2013): its dataset card gives no license "
             "(`unknown`). Check the original terms before any use beyond research."),
    "imdb": dict(
        hub_id="stanfordnlp/imdb", name="IMDB", license="other", license_name="imdb-large-movie-review",
        note="IMDB Large Movie Review Dataset (Maas et al. 2011): its dataset card gives license `other`; the "
             "reviews are IMDb user content released for research. Check those terms before any other use."),
    "wnut17": dict(
        hub_id="leondz/wnut_17", name="WNUT 17", license="cc-by-4.0", license_name=None,
        note="WNUT 17 is released under CC BY 4.0: credit the dataset when you use these weights."),
    "flickr8k": dict(
        hub_id="jxie/flickr8k", name="Flickr8k", license="other", license_name="flickr8k-research-only",
        note="Flickr8k (Hodosh et al. 2013) is distributed for research use only; the photos belong to their "
             "Flickr owners. These weights are derived from its captions: use them for research only."),
}
SETTINGS = ("beam", "alpha", "mean_length", "images")  # numbers stored beside caption metrics that are not metrics


def task_card(task) -> tuple:
    """(Hub pipeline tag, title, an example input) from the task's module (its CARD); a neutral one for a task
    this install does not know, so any config still gets a card."""
    try:
        return task_module(task).CARD
    except LookupError:
        return None, str(task), None


def dataset_key(source: str) -> str:
    """A Hub id or a local folder -> the DATASETS key it reads as, by its last name (stanfordnlp/imdb and
    ../shared/datasets/imdb are both "imdb"); unknown sources give a key DATASETS lacks."""
    return re.sub(r"[^a-z0-9]", "", str(source).rstrip("/").rsplit("/", 1)[-1].lower())


def dataset_info(config: dict) -> dict:
    """The DATASETS entry for the checkpoint's training data, or a neutral one naming the source as is."""
    data = config.get("data") or {}
    source = str(data.get("hub_id") or data.get("path") or "unknown")
    return DATASETS.get(dataset_key(source)) or dict(
        hub_id=data.get("hub_id"), name=source, license="other", license_name="see-dataset-card",
        note=f"Trained on {source}: the terms of that dataset apply to these weights; see its card.")


def _scalars(metrics: dict) -> dict:
    """The plain numbers of a split's metrics (per-type breakdowns and other nesting left out)."""
    return {k: v for k, v in metrics.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in SETTINGS}


def metadata(config: dict) -> dict:
    """The card's YAML front matter as a dict."""
    task, arch, name = config["task"], config.get("arch", "?"), config.get("name", "seqzoo-model")
    pipeline, title, _ = task_card(task)
    ds = dataset_info(config)
    meta = {"library_name": "seqzoo", "license": ds["license"]}
    if ds.get("license_name"):
        meta["license_name"] = ds["license_name"]
    meta["tags"] = [t for t in ("seqzoo", task, arch, pipeline, "safetensors") if t]
    if ds.get("hub_id"):
        meta["datasets"] = [ds["hub_id"]]
    metrics = config.get("metrics") or {}
    keys = sorted({k for split in metrics.values() for k in _scalars(split)})
    if keys:
        meta["metrics"] = keys
    if pipeline:
        meta["pipeline_tag"] = pipeline
    results = [{"task": {"type": pipeline or task, "name": title},
                "dataset": {"name": ds["name"], "type": ds.get("hub_id") or ds["name"], "split": split},
                "metrics": [{"type": k, "value": v, "name": f"{split} {k}"} for k, v in _scalars(values).items()]}
               for split, values in metrics.items() if _scalars(values)]
    if results:
        meta["model-index"] = [{"name": name, "results": results}]
    return meta


def _article(words: str) -> str:
    return ("An " if words.startswith(("LSTM", "a", "e", "i", "o", "u")) else "A ") + words  # "an LSTM": "an el-"


def render(config: dict, load_as: str) -> str:
    """The README.md text for a checkpoint that `zoo.load(load_as)` loads (a folder, a name or hf://ORG/REPO)."""
    task, arch, name = config["task"], config.get("arch", "?"), config.get("name", "seqzoo-model")
    _, title, example = task_card(task)
    ds = dataset_info(config)
    train = config.get("train") or {}
    lines = ["---", yaml.safe_dump(metadata(config), sort_keys=False, allow_unicode=True).rstrip(), "---", "",
             f"# {name}", "",
             f"{_article(ARCH_NAMES.get(arch, arch))} for {title}, trained on {ds['name']} with "
             "seqzoo, a zoo of vanilla RNN, LSTM and BiLSTM models."
             + (f" {config['parameters']:,} parameters." if "parameters" in config else ""), ""]
    metrics = {s: _scalars(m) for s, m in (config.get("metrics") or {}).items() if _scalars(m)}
    if metrics:
        keys = sorted({k for m in metrics.values() for k in m})
        lines += ["## Results", "", "| split | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        lines += [f"| {split} | " + " | ".join(f"{m[k]:.2f}" if k in m else "-" for k in keys) + " |"
                  for split, m in metrics.items()]
        lines += ["", f"Model selection used the validation split only ({config.get('metric', '?')}); "
                      "the test split was scored once, at the end.", ""]
    on_hub = load_as.startswith("hf://")
    # a card written next to the weights names that folder (a run's name can be a bundled model's too: saying
    # zoo.load(NAME) here would point a user's run at the bundled model)
    note = "  # this folder" if not on_hub and "/" in load_as else ""
    lines += ["## Use", "", "```python", "import zoo", "", f"model = zoo.load({json.dumps(load_as)}){note}"]
    if example:
        lines.append(f"model.predict({json.dumps(example)})")
    # the data the recorded numbers came from (a Hub copy may hide labels the local copy has, e.g. SST-2 test)
    data_id = (config.get("data") or {}).get("path") or ds.get("hub_id") or "DATA"
    eval_split = "test" if "test" in metrics else "validation"
    lines += ["```", "", "```bash", *([f"python -m zoo download {load_as}"] if on_hub else []),
              f"python -m zoo evaluate {load_as} --data {data_id} --split {eval_split}", "```", "",
              "Loading reads JSON and safetensors only: it never runs code from the checkpoint.", "",
              "## Training", ""]
    if train.get("command"):
        # a bundled model trained straight into zoo/checkpoints: training refuses that --out now (its manifest
        # entry would no longer match); the folder a run writes does not change the model
        command, moved = re.subn(r"--out \S*zoo/checkpoints/(\S+)", r"--out runs/\1", train["command"])
        lines += ["```bash", command, "```", ""]
        if moved:
            lines += ["(It was run with `--out` in the bundled models' folder, which training refuses now: train "
                      "into `runs/` and copy the checkpoint there.)", ""]
    facts = [("best epoch", train.get("best_epoch")), ("optimizer steps", train.get("steps")),
             ("training seconds", train.get("train_seconds")), ("seed", train.get("seed")),
             ("data", ds.get("hub_id") or ds["name"]), ("data read from", (config.get("data") or {}).get("path")),
             ("data revision", (config.get("data") or {}).get("revision")),
             ("weights dtype", config.get("dtype")),
             ("decoding", ", ".join(f"{k} {v}" for k, v in (config.get("decode") or {}).items()
                                    if not isinstance(v, dict)) or None)]
    lines += [f"- {k}: {v}" for k, v in facts if v is not None]
    versions = config.get("versions") or {}
    if versions:
        lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    lines += ["", "## Files", "", "- `config.json`: task, architecture, sizes, labels, data source, metrics, recipe",
              "- `model.safetensors`: the weights", "- `tokenizer.json`: the vocabulary, where the task has one",
              "- `README.md`: this card, generated from config.json", "",
              "## License and data", "", ds["note"], ""]
    return "\n".join(lines)
