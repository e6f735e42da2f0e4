"""seqzoo: vanilla RNN, LSTM and BiLSTM models side by side on real data.

    import zoo
    zoo.list_models()                 # ["caption-bilstm", ..., "ner-rnn", "sentiment-bilstm", ...]
    ner = zoo.load("ner-bilstm")      # a checkpoint folder, a bundled name, or a Hub repo ("hf://ORG/REPO")
    ner.predict("EU rejects German call to boycott British lamb .")
"""
import importlib
import importlib.util

# name -> the module that owns it, imported on first use: `import zoo` (and `from zoo import interrupt`, which a
# training script calls before anything else) stays free of torch until something needs it
_OWNERS = {"list_models": "registry", "load": "registry", "CheckpointError": "checkpoint",
           "HubUnavailable": "checkpoint", "ModelNotFound": "checkpoint", "IntegrityError": "integrity"}

__all__ = ["list_models", "load", "CheckpointError", "IntegrityError", "ModelNotFound", "HubUnavailable"]


def __getattr__(name: str):
    if name in _OWNERS:
        return getattr(importlib.import_module(f".{_OWNERS[name]}", __name__), name)
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:  # `import zoo` then zoo.registry, as before
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


def __dir__():
    return sorted([*__all__, "__doc__", "__name__"])
