"""Formula-driven pretraining of the detector's backbone.

Training images are generated from formulas alone (no natural images, no downloads): iterated
function system fractals grouped into categories in the style of FractalDB (Kataoka et al., ACCV
2020), drawn over procedural textures that form categories of their own, with small synthetic marks
(scratches, spots, cut-and-paste patches) whose positions the network learns to locate.

Modules: :mod:`.ifs` (fractal categories and rendering), :mod:`.textures` (texture categories),
:mod:`.marks` (local synthetic defects), :mod:`.generator` (deterministic batches),
:mod:`.model` (backbone plus training heads), :mod:`.train` (the resumable loop and export).
"""

SCRIPT_VERSION = "1.1"
