"""An example JAX plugin for bench: a Transformer autoencoder (see plugin.py)."""
