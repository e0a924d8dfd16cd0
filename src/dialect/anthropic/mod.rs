//! Anthropic Messages (reference: dialects.md §1.C, §2.C, §3, §4).
