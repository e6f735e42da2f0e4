"""The seqzoo web app (app.py at the repo root builds it): layout in ui.py, event functions in logic.py
and shapes.py, figures in plots.py, model loading in models.py, English and Korean text in texts.py."""
