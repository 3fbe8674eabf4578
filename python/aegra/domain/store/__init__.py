"""`/store`: LangGraph's long-term memory store over HTTP (langgraph-api's `/store` routes)."""
