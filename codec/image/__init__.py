"""Image codecs (RECOMBINER)."""
