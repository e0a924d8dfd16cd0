//! Google Gemini generateContent (reference: dialects.md §1.D, §2.D, §3, §4).
