"""Measurement, not on the product's path: nothing outside ``eval/``, ``tools/`` and ``cli/bench.py``
imports it.

``quality.py``: style and content losses of any stylisation method on the eval photos;
``temporal_metrics.py``: warping error, ghosting and flicker of stylised video;
``sequences.py`` and ``split_net.py``: the frames and the split graphs the temporal tools measure;
``video_eval.py``: the encoded output of ``livestyle video`` scored as a user gets it;
``shaky.py``: hand-held test clips cut from a video or a photo;
``bench.py``: speed per net and backend against a PyTorch baseline (``livestyle bench``).
"""
