"""Model and data compression: BiFeat feature quantization (``featquant``), SVD training
(``lowrank``)."""

__all__: list[str] = []
