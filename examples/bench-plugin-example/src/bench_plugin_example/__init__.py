"""An example third-party bench plugin: the ``robust-z`` detector and the ``sine-spikes`` data."""

__version__ = "0.1.0"
