"""Microstructure presets: plain YAML configurations of published anode-free cells.

Read them with :func:`synthebsd.config.load_microstructure_config` (by name) or copy a file and
edit it; ``synthebsd scene NAME --out DIR`` renders one.
"""
