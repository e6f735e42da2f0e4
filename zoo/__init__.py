"""seqzoo: vanilla RNN, LSTM and BiLSTM models side by side on real data.

    import zoo
    zoo.list_models()                 # ["caption-bilstm", ..., "ner-rnn", "sentiment-bilstm", ...]
    ner = zoo.load("ner-bilstm")      # a checkpoint folder, a bundled name, or a Hub repo ("hf://ORG/REPO")
    ner.predict("EU rejects German call to boycott British lamb .")
"""
from .checkpoint import CheckpointError, HubUnavailable, ModelNotFound
from .integrity import IntegrityError
from .registry import list_models, load

__all__ = ["list_models", "load", "CheckpointError", "IntegrityError", "ModelNotFound", "HubUnavailable"]
