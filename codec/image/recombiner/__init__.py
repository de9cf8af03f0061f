"""RECOMBINER (He et al., ICLR 2024): a Bayesian INR with a learned prior, coded by relative entropy
coding. Work in progress (issue #10): the network (`inr.py`) and the patch layout (`patches.py`);
the prior, the encoder, the bitstream and the registry entry follow."""
