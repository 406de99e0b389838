"""registry.agent_label: scope, service.name, record name → the one agent label, which the terminal shows."""

from __future__ import annotations

from agentwatch.normalise.adapters.base import UNKNOWN_AGENT
from agentwatch.normalise.adapters.registry import agent_label as agent_name


def test_known_services_map_to_one_name_each() -> None:
    assert [agent_name(s) for s in ("claude_code", "codex_tui", "codex-exec", "github-copilot")] == [
        "claude-code", "codex", "codex", "copilot-cli"
    ]


def test_terminal_escape_sequences_are_replaced_not_kept() -> None:
    # OSC 52 would set the user's clipboard, CSI 2J clear the screen: ESC and BEL become "?".
    assert agent_name("evil\x1b]52;c;AAAA\x07\x1b[2J") == "evil?]52;c;AAAA??[2J"


def test_bidi_overrides_and_line_breaks_are_replaced() -> None:
    assert agent_name("goose\u202eedoc-edualc") == "goose?edoc-edualc"
    assert agent_name("a\nb\u2028c") == "a?b?c"


def test_a_long_name_is_cut_to_64_characters() -> None:
    assert agent_name("n" * 100_000) == "n" * 64


def test_printable_unicode_names_are_kept_as_sent() -> None:
    assert agent_name("café-agent") == "café-agent"


def test_a_missing_or_blank_name_is_unknown() -> None:
    assert [agent_name(s) for s in (None, "", "  \t")] == [UNKNOWN_AGENT] * 3


def test_the_scope_names_the_agent_whatever_the_service_name() -> None:
    # A global OTEL_SERVICE_NAME=my-app changes service.name, not the agent's own scope.
    assert agent_name("my-app", "com.anthropic.claude_code.events") == "claude-code"
    assert agent_name("my-app", "github.copilot") == "copilot-cli"


def test_a_record_whose_scope_and_service_say_nothing_is_known_by_its_name() -> None:
    assert agent_name("my-app", "some.meter", "claude_code.token.usage") == "claude-code"
    assert agent_name("my-app", "some.meter", "http.server.duration") == "my-app"
