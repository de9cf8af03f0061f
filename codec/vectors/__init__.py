"""The vector codec (id 3, `vectors`): a batch of embeddings as a compact file and back.

Matryoshka prefix (or a PCA rotation learned from the batch, stored in the file) -> one uniform
scalar quantizer step for every kept dimension -> indexed-CDF entropy coding with a table per
dimension. Numpy only: encoding and decoding never need torch or the embedder's weights.
"""
