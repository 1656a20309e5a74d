"""demo: the whole marketplace in one process (``metainf demo`` / ``make demo``).

It may import every package, as the CLI does; no library code imports it.
"""
