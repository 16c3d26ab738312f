"""The detector and its registration (no JAX import here: bench lists plugins cheaply)."""

from __future__ import annotations

from bench.detectors.jax import JaxDetector

import bench


class TransformerAEDetector(JaxDetector):
    """Transformer autoencoder on sliding windows; score = reconstruction error per row
    (higher = more anomalous), one model per series, trained as a fleet.

    window: rows per window (training windows every ``stride`` rows, scoring every row).
    width:  embedding and attention width; ``heads``: attention heads; ``code``: bottleneck.
    align:  ``causal``: row ``t`` scores the window ending at ``t``; ``centred``: the mean
            over the windows covering it.
    The training fields (epochs, batch, lr, patience, ...) come from ``**train``.
    """

    name = "transformer_ae"
    train_defaults = {"epochs": 20, "stride": 2, "score_batch": 2048}

    def __init__(self, *, window: int = 16, width: int = 16, heads: int = 2, code: int = 4,
                 align: str = "causal", **train):
        self.window = window
        self.width = width
        self.heads = heads
        self.code = code
        self.align = align
        super().__init__(**train)

    def _setup(self, X) -> None:
        if self.window < 2 or self.width % (2 * self.heads):
            raise bench.BenchError(f"{self.name}: need window >= 2 and width a multiple of "
                                   f"2 x heads, got window={self.window}, width={self.width}")

    @property
    def sample_rows(self) -> int:
        return int(self.window)

    def model_config(self):
        from .model import TransformerConfig

        return TransformerConfig(int(self.window), int(self.width), int(self.heads),
                                 int(self.code))


@bench.hookimpl
def bench_register_detectors(register):
    register("transformer_ae", TransformerAEDetector, version="0.1.0")
