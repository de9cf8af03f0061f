"""One servicer per proto service; each converts proto -> library call -> proto and nothing more."""
