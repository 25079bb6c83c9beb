"""Import ``transformers``' attention modules for the tests, which use them only as references.

``import transformers`` imports ``torchvision``, whose compiled operators do not load with
the CPU build of torch; :mod:`timm_reference` declares them first (see its docstring), so it
is imported before anything from ``transformers``.
"""

import timm_reference  # noqa: F401  (declares torchvision's operators; must come first)
from transformers.models.deepseek_v2.configuration_deepseek_v2 import (  # noqa: E402
    DeepseekV2Config)
from transformers.models.deepseek_v2.modeling_deepseek_v2 import (  # noqa: E402
    DeepseekV2Attention, DeepseekV2RotaryEmbedding)
from transformers.models.llama.configuration_llama import LlamaConfig  # noqa: E402
from transformers.models.llama.modeling_llama import LlamaAttention  # noqa: E402

__all__ = ["DeepseekV2Attention", "DeepseekV2Config", "DeepseekV2RotaryEmbedding",
           "LlamaAttention", "LlamaConfig"]
