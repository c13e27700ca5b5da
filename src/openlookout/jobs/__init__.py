"""Background work (dataset imports, later training): in-process workers by default."""
