"""The official openai Python SDK against tollgate: chat, streamed chat with usage, models, errors.

Run by tests/sdk_openai.rs with TOLLGATE_BASE_URL and TOLLGATE_KEY set; exits non-zero on the
first mismatch.
"""
import os

import openai
from openai import OpenAI

base_url = os.environ["TOLLGATE_BASE_URL"]
client = OpenAI(base_url=base_url, api_key=os.environ["TOLLGATE_KEY"], max_retries=0)
messages = [{"role": "user", "content": "say hi please"}]

r = client.chat.completions.create(model="gpt-4o", messages=messages)
assert r.choices[0].message.content == "Hello from sdk-mock!", r
assert r.model == "gpt-4o", r.model
assert r.choices[0].finish_reason == "stop"
assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (3, 3, 6), r.usage

chunks = list(
    client.chat.completions.create(
        model="gpt-4o", messages=messages, stream=True, stream_options={"include_usage": True}
    )
)
text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
assert text == "Hello from sdk-mock!", text
assert all(c.model == "gpt-4o" for c in chunks)
assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 6, chunks[-1]

models = sorted(m.id for m in client.models.list())
assert models == ["gpt-4o", "gpt-4o-mini"], models

try:
    client.chat.completions.create(model="no-such-model", messages=messages)
    raise AssertionError("unknown model accepted")
except openai.NotFoundError as e:
    assert e.code == "model_not_found", e.body

try:
    OpenAI(base_url=base_url, api_key="sk-wrong", max_retries=0).models.list()
    raise AssertionError("wrong key accepted")
except openai.AuthenticationError as e:
    assert e.code == "invalid_api_key", e.body

print("openai sdk: chat, stream, models and errors ok")
