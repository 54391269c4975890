"""Neural networks trained on synthebsd's synthetic patterns (torch).

Empty in this release: orientation regression and pore/phase segmentation models come with
their own issue. Nothing here is imported by the rest of the package.
"""
