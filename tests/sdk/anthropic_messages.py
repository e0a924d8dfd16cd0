"""The official anthropic Python SDK against tollgate, in front of providers of other dialects.

Run by tests/sdk_clients.rs with TOLLGATE_BASE_URL and TOLLGATE_KEY set. Models `m-<dialect>`
answer in text, `t-<dialect>` call the tool get_weather({"city": "Paris"}) until they see its
result, which they acknowledge as "Tool said: <result>". Exits non-zero on the first mismatch.
"""
import os

import anthropic

base_url = os.environ["TOLLGATE_BASE_URL"]
key = os.environ["TOLLGATE_KEY"]
client = anthropic.Anthropic(base_url=base_url, api_key=key, max_retries=0)
ask = [{"role": "user", "content": "say hi please"}]
tools = [{
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}]
question = [{"role": "user", "content": "Weather in Paris?"}]

for provider in ["openai", "openai-responses", "gemini", "anthropic"]:
    r = client.messages.create(model=f"m-{provider}", max_tokens=256, system="Be brief.", messages=ask)
    assert [b.type for b in r.content] == ["text"], r
    assert r.content[0].text == "Hello from plain!", r
    assert r.stop_reason == "end_turn", r
    assert r.model == f"m-{provider}", r.model
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0, r.usage

    with client.messages.stream(model=f"m-{provider}", max_tokens=256, messages=ask) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "Hello from plain!", (provider, text)
    assert final.stop_reason == "end_turn", final
    assert final.usage.output_tokens > 0, final.usage

    r = client.messages.create(model=f"t-{provider}", max_tokens=256, tools=tools, messages=question)
    assert r.stop_reason == "tool_use", (provider, r)
    call = next(b for b in r.content if b.type == "tool_use")
    assert (call.name, call.input) == ("get_weather", {"city": "Paris"}), call

    with client.messages.stream(model=f"t-{provider}", max_tokens=256, tools=tools, messages=question) as s:
        streamed = s.get_final_message()
    streamed_call = next(b for b in streamed.content if b.type == "tool_use")
    assert (streamed_call.name, streamed_call.input) == ("get_weather", {"city": "Paris"}), streamed
    assert streamed.stop_reason == "tool_use", streamed

    history = question + [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in r.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18 C"}]},
    ]
    r = client.messages.create(model=f"t-{provider}", max_tokens=256, tools=tools, messages=history)
    assert r.content[0].text == "Tool said: 18 C", (provider, r)

try:
    client.messages.create(model="no-such-model", max_tokens=16, messages=ask)
    raise AssertionError("unknown model accepted")
except anthropic.NotFoundError as e:
    assert e.body["error"]["type"] == "not_found_error", e.body

try:
    anthropic.Anthropic(base_url=base_url, api_key="sk-wrong-key", max_retries=0).messages.create(
        model="m-openai", max_tokens=16, messages=ask
    )
    raise AssertionError("wrong key accepted")
except anthropic.AuthenticationError as e:
    assert e.body["error"]["type"] == "authentication_error", e.body

print("anthropic sdk: messages, streams, tool round trips and errors ok")
