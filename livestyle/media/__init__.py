"""Frames in and out. Frames cross every boundary as BGR uint8 HxWx3 (OpenCV's convention).

``images.py`` (still images), ``video.py`` (PyAV reader and writer) with ``audio.py`` (the audio
the writer carries over), ``sources.py`` (cameras, streams and files played as cameras),
``sinks/`` (window, virtual camera, browser, recorder).
"""
