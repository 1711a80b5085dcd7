"""Safety conformance tests every safety provider runs: shields as resources, ``run-shield`` and ``moderations``
called for real through the stack, in both message shapes, with the ``openai`` SDK too, and the bad-input answers.

Subclass :class:`SafetyProviderTests` and say which text your shield flags and which it passes::

    class TestAcmeShield(SafetyProviderTests):
        provider_type = "inline::acme-shield"
        provider_config = {"blocked_words": ["forbidden"]}
        shield = {"shield_id": "acme", "params": {}}
        flagged_text = "this text has a forbidden word"
        clean_text = "the weather is fine today"

Override the class-scoped fixture ``config_under_test`` when the config needs other fixtures (a scripted upstream's
URL), and ``supporting_providers`` / ``supporting_resources`` when the shield needs them (llama-guard's model).
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from .kit import PROVIDER_ID, StackKit


class SafetyProviderTests(StackKit):
    api = "safety"
    #: The register body of one shield on the provider under test (``provider_id`` is filled in).
    shield: ClassVar[dict[str, Any]]
    #: A text the shield flags, and one it passes.
    flagged_text: ClassVar[str]
    clean_text: ClassVar[str]

    @pytest.fixture(scope="class")
    @classmethod
    def shield_id(cls) -> str:
        return cls.shield["shield_id"]

    @pytest.fixture(scope="class")
    @classmethod
    def resources_under_test(cls, shield_id: str) -> dict[str, Any]:
        """The shield under test, registered by the run config and the default for moderations."""
        return {"shields": [{**cls.shield, "provider_id": PROVIDER_ID}], "safety": {"default_shield_id": shield_id}}

    # -- helpers -------------------------------------------------------------------------------------------------

    async def run_shield(self, http: Any, shield_id: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
        response = await http.post("/v1/safety/run-shield", json={"shield_id": shield_id, "messages": messages})
        assert response.status_code == 200, response.text
        return response.json()

    # -- shields as resources ------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_shield_is_listed_and_fetched(self, http: Any, shield_id: str) -> None:
        listed = (await http.get("/v1/shields")).json()["data"]
        assert shield_id in [s["identifier"] for s in listed]
        shield = (await http.get(f"/v1/shields/{shield_id}")).json()
        assert shield["provider_id"] == PROVIDER_ID
        assert shield["type"] == "shield"

    @pytest.mark.anyio
    async def test_register_run_and_unregister_another_shield(self, http: Any) -> None:
        body = {**self.shield, "shield_id": f"{self.shield['shield_id']}-second", "provider_id": PROVIDER_ID}
        created = await http.post("/v1/shields", json=body)
        assert created.status_code == 200, created.text
        message = [{"role": "user", "content": self.flagged_text}]
        assert (await self.run_shield(http, body["shield_id"], message))["violation"] is not None
        assert (await http.delete(f"/v1/shields/{body['shield_id']}")).status_code in (200, 204)
        gone = await http.post("/v1/safety/run-shield", json={"shield_id": body["shield_id"], "messages": message})
        assert gone.status_code == 404

    # -- run-shield ----------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_clean_text_passes(self, http: Any, shield_id: str) -> None:
        answer = await self.run_shield(http, shield_id, [{"role": "user", "content": self.clean_text}])
        assert answer["violation"] is None

    @pytest.mark.anyio
    async def test_flagged_text_is_a_violation(self, http: Any, shield_id: str) -> None:
        answer = await self.run_shield(http, shield_id, [{"role": "user", "content": self.flagged_text}])
        violation = answer["violation"]
        assert violation is not None
        assert violation["violation_level"] in ("info", "warn", "error")
        assert isinstance(violation.get("metadata", {}), dict)

    @pytest.mark.anyio
    async def test_every_message_is_inspected(self, http: Any, shield_id: str) -> None:
        """A violation in an earlier message of the conversation counts too, and content parts are read."""
        messages = [
            {"role": "user", "content": [{"type": "text", "text": self.flagged_text}]},
            {"role": "assistant", "content": "Noted."},
            {"role": "user", "content": self.clean_text},
        ]
        answer = await self.run_shield(http, shield_id, messages)
        assert answer["violation"] is not None

    @pytest.mark.anyio
    async def test_llama_stack_message_shape(self, http: Any, shield_id: str) -> None:
        """The 0.2 SDK's messages: content items and ``stop_reason`` on assistant messages."""
        messages = [
            {"role": "system", "content": "You are helpful."},
            {"role": "user", "content": {"type": "text", "text": self.flagged_text}},
        ]
        assert (await self.run_shield(http, shield_id, messages))["violation"] is not None
        clean = [{"role": "assistant", "content": self.clean_text, "stop_reason": "end_of_turn"}]
        assert (await self.run_shield(http, shield_id, clean))["violation"] is None

    # -- moderations ---------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_moderation_has_one_result_per_input(self, http: Any, shield_id: str) -> None:
        response = await http.post(
            "/v1/moderations", json={"model": shield_id, "input": [self.clean_text, self.flagged_text]}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model"] == shield_id
        assert body["id"]
        clean, flagged = body["results"]
        assert clean["flagged"] is False
        assert flagged["flagged"] is True
        for result in body["results"]:
            categories = result.get("categories") or {}
            assert all(isinstance(v, bool) for v in categories.values())
            assert all(isinstance(v, (int, float)) for v in (result.get("category_scores") or {}).values())
            if categories:
                assert any(categories.values()) == result["flagged"]

    @pytest.mark.anyio
    async def test_moderation_with_the_openai_sdk(self, openai: Any, shield_id: str) -> None:
        moderation = await openai.moderations.create(model=shield_id, input=self.flagged_text)
        assert moderation.model == shield_id
        assert [r.flagged for r in moderation.results] == [True]

    @pytest.mark.anyio
    async def test_moderation_without_model_uses_the_default_shield(self, http: Any) -> None:
        response = await http.post("/v1/moderations", json={"input": self.flagged_text})
        assert response.status_code == 200, response.text
        assert response.json()["model"] == self.shield["shield_id"]
        assert response.json()["results"][0]["flagged"] is True

    # -- bad input -----------------------------------------------------------------------------------------------

    @pytest.mark.anyio
    async def test_unknown_shield_is_404(self, http: Any) -> None:
        message = [{"role": "user", "content": "hi"}]
        response = await http.post("/v1/safety/run-shield", json={"shield_id": "no-such-shield", "messages": message})
        assert response.status_code == 404
        assert "no-such-shield" in response.text
        moderation = await http.post("/v1/moderations", json={"model": "no-such-shield", "input": "hi"})
        assert moderation.status_code == 404

    @pytest.mark.anyio
    async def test_missing_messages_and_input_are_422(self, http: Any, shield_id: str) -> None:
        missing = await http.post("/v1/safety/run-shield", json={"shield_id": shield_id})
        assert missing.status_code == 422
        assert "messages" in missing.text
        empty = await http.post("/v1/safety/run-shield", json={"shield_id": shield_id, "messages": []})
        assert empty.status_code == 422
        no_input = await http.post("/v1/moderations", json={"model": shield_id})
        assert no_input.status_code == 422
        assert "input" in no_input.text
