"""The official openai Python SDK's Chat Completions API against tollgate, in front of providers
of every dialect: text, streams with and without usage, and a tool round trip.

Run by tests/sdk_clients.rs with TOLLGATE_BASE_URL and TOLLGATE_KEY set. Models `m-<dialect>`
answer in text, `t-<dialect>` call get_weather({"city": "Paris"}) until they see its result.
"""
import json
import os

from openai import OpenAI

client = OpenAI(base_url=os.environ["TOLLGATE_BASE_URL"], api_key=os.environ["TOLLGATE_KEY"], max_retries=0)
tools = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}]
question = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "say hi please"}]

for provider in ["openai", "openai-responses", "anthropic", "gemini"]:
    model = f"m-{provider}"
    r = client.chat.completions.create(model=model, messages=question)
    assert r.choices[0].message.content == "Hello from plain!", (provider, r)
    assert r.model == model, (provider, r.model)
    assert r.choices[0].finish_reason == "stop", (provider, r)
    u = r.usage
    assert u.prompt_tokens > 0 and u.completion_tokens > 0, (provider, u)
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens, (provider, u)

    # Usage only when asked for, and then once, in a last chunk with no choices.
    for include_usage in [True, False]:
        extra = {"stream_options": {"include_usage": True}} if include_usage else {}
        chunks = list(client.chat.completions.create(model=model, messages=question, stream=True, **extra))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "Hello from plain!", (provider, text)
        assert all(c.model == model for c in chunks), provider
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop", provider
        with_usage = [c for c in chunks if c.usage is not None]
        if include_usage:
            assert len(with_usage) == 1 and chunks[-1].choices == [], (provider, chunks[-1])
            assert with_usage[0].usage.total_tokens == u.total_tokens, (provider, with_usage[0].usage, u)
        else:
            assert with_usage == [], (provider, with_usage)

    model = f"t-{provider}"
    ask = [{"role": "user", "content": "Weather in Paris?"}]
    r = client.chat.completions.create(model=model, messages=ask, tools=tools)
    assert r.choices[0].finish_reason == "tool_calls", (provider, r)
    calls = r.choices[0].message.tool_calls
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [("get_weather", {"city": "Paris"})], (provider, r)
    history = ask + [
        {"role": "assistant", "content": None, "tool_calls": [c.model_dump() for c in calls]},
        {"role": "tool", "tool_call_id": calls[0].id, "content": "18 C"},
    ]
    r = client.chat.completions.create(model=model, messages=history, tools=tools)
    assert r.choices[0].message.content == "Tool said: 18 C", (provider, r)

    # The same round trip, streamed: the call arrives in pieces and is put together.
    chunks = list(client.chat.completions.create(model=model, messages=ask, tools=tools, stream=True))
    deltas = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas and deltas[0].id and deltas[0].function.name == "get_weather", (provider, deltas)
    arguments = "".join(d.function.arguments or "" for d in deltas)
    assert json.loads(arguments) == {"city": "Paris"}, (provider, arguments)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls", provider
    streamed = [{"id": deltas[0].id, "type": "function", "function": {"name": "get_weather", "arguments": arguments}}]
    history = ask + [
        {"role": "assistant", "content": None, "tool_calls": streamed},
        {"role": "tool", "tool_call_id": deltas[0].id, "content": "18 C"},
    ]
    chunks = list(client.chat.completions.create(model=model, messages=history, tools=tools, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Tool said: 18 C", (provider, text)

print("openai sdk chat: text, streams, usage and tool round trips ok")
