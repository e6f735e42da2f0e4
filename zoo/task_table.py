"""The one table of tasks: a task's name -> the module in tasks/ that implements it.

A task module has `build_model(config)`, `make_config(...)` (the checkpoint's config.json), a
`Predictor(model, config, files)` class, `FILES` (the text files its checkpoints carry) and `CARD`
(the Hub's pipeline tag, a title and an example input for the model card). Adding a task is one line
here and one module there (docs/architecture.md). zoo/ names task modules only in this table and
imports them by name when a checkpoint asks for one, so the shared machinery never depends on a task.
"""
from __future__ import annotations

import importlib

TASKS = {"ner": "tasks.ner", "sentiment": "tasks.sentiment", "caption": "tasks.caption"}


def task_module(task):
    """The module of a task named in a config.json; LookupError for a task not in the table."""
    if not isinstance(task, str) or task not in TASKS:
        raise LookupError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    return importlib.import_module(TASKS[task])
