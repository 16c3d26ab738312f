"""Built-in detector plugins (installed as ``bench.detectors``).

Each module is a plugin in every respect: it is declared in ``[project.entry-points.bench]`` and
registers its detectors through ``bench_register_detectors``.
"""
