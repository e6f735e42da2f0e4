"""Task modules: each adds only what is its own (data, head, metric, decoding, predictor) to zoo/."""
