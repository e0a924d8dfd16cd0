//! OpenAI Responses (reference: dialects.md §1.B, §2.B, §3, §4).
