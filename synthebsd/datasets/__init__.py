"""Training data sets (streams, stores and torch datasets): their own issue.

Empty in this release; file input and output moved to :mod:`synthebsd.io`.
"""

__all__: list[str] = []
