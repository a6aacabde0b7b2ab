"""Pure ``nn.Module`` definitions and tensor functions. No file or network I/O here.

``ops.py`` (AdaIN, channel statistics, Gram matrices), ``vgg.py`` (the VGG-16 feature extractor:
loss network and AdaIN encoder; ``checkpoints.load_vgg16`` fills it from the shared weights),
``johnson.py`` (feed-forward nets, ours and Engstrom's), ``adain.py`` (the AdaIN decoder and its
split content/style paths), ``adain_light.py`` (livestyle's light arbitrary-style net).
"""
