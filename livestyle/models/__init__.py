"""Pure ``nn.Module`` definitions and tensor functions. No file or network I/O here."""
