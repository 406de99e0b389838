"""content: the GenAI conventions' keys plus every adapter's own declaration, and nothing else."""

from __future__ import annotations

from agentwatch.normalise import content
from agentwatch.normalise.adapters import registry


def test_content_keys_are_the_genai_keys_and_the_union_of_the_adapters() -> None:
    declared = set().union(*(adapter.content_keys for adapter in registry.ALL))
    assert content.CONTENT_KEYS == content.GENAI_KEYS | declared
    # Spot checks, one per agent that declares keys: Claude, Codex, Gemini (and Qwen), OpenCode.
    assert {"user_prompt", "output", "process.command_args", "ai.prompt"} <= content.CONTENT_KEYS
    assert registry.ALL[3].content_keys == registry.ALL[2].content_keys  # Qwen is Gemini's fork


def test_indexed_genai_content_is_content_and_plain_keys_are_not() -> None:
    assert content.is_content_key("gen_ai.prompt.0.content")
    assert not content.is_content_key("gen_ai.usage.input_tokens")
