"""The database: transactions (engine.py), how statements run (statements.py), each table's SQL
(tables/), the models and migrations, and LangGraph's checkpointer on the same database."""
