#!/bin/sh
# Data for training embedders and for the benchmarks (tests use the subsets in tests/data/):
# Fashion-MNIST and WordNet 3.0 from Debian's archive, installed under /usr/share.
set -e
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -q
$SUDO apt-get install -y -q dataset-fashion-mnist wordnet-base
ls /usr/share/datasets/fashion-mnist /usr/share/wordnet/data.noun
