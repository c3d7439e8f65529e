"""The model layer: one interface (`Backend`: generate, p_yes, logprob), three engines (vLLM in
process, any OpenAI-compatible server, transformers), and the manifests that name models.

Importing this package is light; each engine's heavy imports happen when that engine is opened.
"""

from swe_lsp.llm.backend import Backend, ChatTemplate, GenerationInterrupted
from swe_lsp.llm.factory import open_backend, resolve_backend_name
from swe_lsp.llm.manifest import Manifest, get_manifest, list_manifests
from swe_lsp.llm.prepare import PreparedModel, is_prepared, prepare
from swe_lsp.llm.types import (
    Constraint,
    GenerateRequest,
    Generation,
    Message,
    Prompt,
    Sample,
    SamplingConfig,
    Score,
    ScoreRequest,
    Usage,
    regex_escape,
    regex_not_starting,
    total_usage,
)

__all__ = [
    "Backend",
    "ChatTemplate",
    "Constraint",
    "GenerateRequest",
    "Generation",
    "GenerationInterrupted",
    "Manifest",
    "Message",
    "PreparedModel",
    "Prompt",
    "Sample",
    "SamplingConfig",
    "Score",
    "ScoreRequest",
    "Usage",
    "get_manifest",
    "is_prepared",
    "list_manifests",
    "open_backend",
    "prepare",
    "regex_escape",
    "regex_not_starting",
    "resolve_backend_name",
    "total_usage",
]
