"""The official openai Python SDK's Responses API against tollgate, in front of providers of other
dialects.

Run by tests/sdk_clients.rs with TOLLGATE_BASE_URL and TOLLGATE_KEY set. Models `m-<dialect>`
answer in text, `t-<dialect>` call get_weather({"city": "Paris"}) until they see its result.
"""
import json
import os

from openai import OpenAI

client = OpenAI(base_url=os.environ["TOLLGATE_BASE_URL"], api_key=os.environ["TOLLGATE_KEY"], max_retries=0)
tools = [{
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": False,
}]

for provider in ["openai", "anthropic", "gemini", "openai-responses"]:
    r = client.responses.create(model=f"m-{provider}", instructions="Be brief.", input="say hi please")
    assert r.output_text == "Hello from plain!", (provider, r)
    assert r.status == "completed", r
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0, r.usage

    with client.responses.stream(model=f"m-{provider}", input="say hi please") as s:
        text = "".join(e.delta for e in s if e.type == "response.output_text.delta")
        final = s.get_final_response()
    assert text == "Hello from plain!", (provider, text)
    assert final.status == "completed", final

    r = client.responses.create(model=f"t-{provider}", input="Weather in Paris?", tools=tools)
    calls = [o for o in r.output if o.type == "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("get_weather", {"city": "Paris"})], (provider, r)
    history = [
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call", "call_id": calls[0].call_id, "name": "get_weather", "arguments": calls[0].arguments},
        {"type": "function_call_output", "call_id": calls[0].call_id, "output": "18 C"},
    ]
    r = client.responses.create(model=f"t-{provider}", input=history, tools=tools)
    assert r.output_text == "Tool said: 18 C", (provider, r)

print("openai sdk responses: text, streams and tool round trips ok")
