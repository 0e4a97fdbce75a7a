"""Building blocks shared between architectures (one file per family)."""
