"""synthebsd: synthetic ground truth and EBSD patterns for Li/Na metal anodes.

Conventions used throughout (stated once here, repeated in each core class):

- Orientations are orix rotations: passive, Bunge (ZXZ) Euler angles, sample → crystal.
- The detector is a kikuchipy :class:`~kikuchipy.detectors.EBSDDetector`; projection
  centres are given in the Bruker convention (PCx, PCy, PCz as fractions of the detector
  width, height and height), as kikuchipy uses internally.
- Maps are ``(row, col)`` arrays with the origin at the top left; ``x`` runs along the
  columns and ``y`` down the rows, both in µm.
"""

__version__ = "0.1.0"
