"""The official google-genai Python SDK against tollgate, in front of providers of other dialects.

Run by tests/sdk_clients.rs with TOLLGATE_BASE_URL (the gateway's root) and TOLLGATE_KEY set.
Models `m-<dialect>` answer in text, `t-<dialect>` call get_weather({"city": "Paris"}) until
they see its result. Exits non-zero on the first mismatch.
"""
import os

from google import genai
from google.genai import errors, types

base_url = os.environ["TOLLGATE_BASE_URL"]
key = os.environ["TOLLGATE_KEY"]


def client(version):
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=base_url, api_version=version))


weather = types.Tool(function_declarations=[types.FunctionDeclaration(
    name="get_weather",
    description="The weather in a city",
    parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)])
tool_config = types.GenerateContentConfig(
    tools=[weather], automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)
)
brief = types.GenerateContentConfig(system_instruction="Be brief.")

for version in ["v1beta", "v1"]:
    c = client(version)
    for provider in ["openai", "openai-responses", "anthropic", "gemini"]:
        r = c.models.generate_content(model=f"m-{provider}", contents="say hi please", config=brief)
        assert r.text == "Hello from plain!", (version, provider, r)
        assert r.candidates[0].finish_reason == types.FinishReason.STOP, r
        assert r.usage_metadata.prompt_token_count > 0, r.usage_metadata

        text = "".join(ch.text or "" for ch in c.models.generate_content_stream(
            model=f"m-{provider}", contents="say hi please"))
        assert text == "Hello from plain!", (version, provider, text)

        r = c.models.generate_content(model=f"t-{provider}", contents="Weather in Paris?", config=tool_config)
        calls = r.function_calls or []
        assert [(f.name, f.args) for f in calls] == [("get_weather", {"city": "Paris"})], (provider, r)
        history = [
            types.Content(role="user", parts=[types.Part(text="Weather in Paris?")]),
            r.candidates[0].content,
            types.Content(role="user", parts=[
                types.Part.from_function_response(name="get_weather", response={"result": "18 C"})
            ]),
        ]
        r = c.models.generate_content(model=f"t-{provider}", contents=history, config=tool_config)
        assert r.text == "Tool said: 18 C", (provider, r)

# Kept in a variable: a client closes its connections when it is collected.
c = client("v1beta")
try:
    c.models.generate_content(model="no-such-model", contents="hi")
    raise AssertionError("unknown model accepted")
except errors.ClientError as e:
    assert e.code == 404 and e.status == "NOT_FOUND", (e.code, e.status)

print("google-genai sdk: v1 and v1beta, streams, tool round trips and errors ok")
