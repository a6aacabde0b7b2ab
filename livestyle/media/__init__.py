"""Frame sources and sinks. Frames cross every boundary as BGR uint8 HxWx3 (OpenCV's convention)."""
