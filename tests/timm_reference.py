"""Import ``timm`` for the tests, which use it only as a reference implementation.

``requirements.txt`` pins PyPI's ``torchvision`` wheel, which is built against CUDA torch.
With the CPU build of torch its compiled operators (``torchvision/_C.so``) do not load, and
``import torchvision`` (which ``import timm`` runs) then fails with "operator
torchvision::nms does not exist" when it registers the Python fallbacks of ``nms``.  When,
and only when, that library does not load, this module declares the two operator schemas
first so that the import finishes; no test calls them.
"""

import importlib.util
from pathlib import Path

import torch


def _declare_torchvision_ops_if_missing() -> None:
    spec = importlib.util.find_spec("torchvision")  # finds it without importing it
    library = Path(spec.origin).parent / "_C.so"
    try:
        torch.ops.load_library(str(library))
        return  # torchvision's own operators are there
    except OSError:
        pass
    for op in ("nms", "qnms"):
        torch.library.define(f"torchvision::{op}",
                             "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")


_declare_torchvision_ops_if_missing()

import timm  # noqa: E402  (after the schemas above)
from timm.layers.pos_embed_rel import RelPosBias  # noqa: E402
from timm.models.vision_transformer import VisionTransformer  # noqa: E402

__all__ = ["RelPosBias", "VisionTransformer", "timm"]
