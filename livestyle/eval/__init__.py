"""Measurement, not on the product's path: nothing outside ``eval/``, ``tools/`` and ``cli/bench.py``
imports it.

``quality.py``: style and content losses of any stylisation method on the eval photos;
``temporal_metrics.py``: warping error, ghosting and flicker of stylised video;
``sequences.py`` and ``split_net.py``: the frames and the split graphs the temporal tools measure;
``video_eval.py``: the encoded output of ``livestyle video`` scored as a user gets it;
``shaky.py``: hand-held test clips cut from a video or a photo;
``bench.py``: ``time_calls``, the timing loop of the repeated-call measurements here and in
``tools/``, and speed per net and backend against a PyTorch baseline (``livestyle bench``);
``magenta.py``: Magenta's nets, the CPU anchors for speed and quality;
``model_only.py`` and ``device_job.py``: what ``tools/gpu/device_check.py`` runs on a lent GPU
machine (every net on every backend, an end-to-end number without PyAV, training under a hard
stop, its output packed into parts that come back).
"""
