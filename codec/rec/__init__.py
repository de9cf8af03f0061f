"""Relative entropy coding (REC): sending a sample of a posterior q in about KL(q || p) bits.

Encoder and decoder share a seed. For each block of parameters both can generate the same 2^K
candidates from the prior p (`candidates.py`: a counter-based integer hash, then a Gaussian
quantile table, `gauss.py`: integers and exact float32 arithmetic only, so every CPU and GPU host
regenerates them bit for bit). The encoder picks one candidate with probability proportional to
q/p (importance sampling, `coder.py`) and writes its K-bit index; the decoder regenerates that one
candidate alone (the hash is counter-based, so no other candidate is drawn).
"""
