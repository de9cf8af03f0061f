"""Vector index: collections of Matryoshka embeddings, searched by shortlisting on a short prefix
and reranking on the full vector.

    spec.py     what a collection records (model, named prefix dims, storage) and search requests
    backend.py  the interface both engines implement, and the search plans the modes become
    edge.py     Qdrant Edge, embedded in-process (the default; kept under the data dir)
    server.py   a Qdrant server or cluster through qdrant-client (`--index-url`), or its local mode
    index.py    `open_index`: ids, prefixes, batching, progress, snapshots: one behaviour for both
"""
