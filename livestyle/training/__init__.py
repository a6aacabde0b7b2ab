"""Trainers sharing one loss network, one loop and one way of writing samples.

``losses.py`` (relative perceptual losses), ``data.py`` (image banks, batches as a function of
seed and step), ``loop.py`` (the loop: optimiser, checkpoints, resume), ``averaging.py`` (weight
averaging), ``samples.py`` (sample sheets); one task per family: ``johnson.py``, ``adain.py``,
``distill.py`` (fast students), ``adain_light.py``. Gatys optimisation is not training: it is
``livestyle/paint.py``.
"""
