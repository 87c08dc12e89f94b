"""Tensor op families beyond elementwise math, one module per family (reduce, nnet, ...)."""
