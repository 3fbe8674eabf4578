"""`/store`: LangGraph's long-term memory store over HTTP (api-surface.md §1.7, §2.9)."""
