"""Data access, one module per table: every statement the server runs on that table lives there.

- assistants.py: `assistants` and `assistant_versions`
- threads.py: `threads`
- runs.py: `runs`, with the run queue's claim and the statements of a run's life
- crons.py: `crons`, with the scheduler's claim
- webhook_deliveries.py: `webhook_deliveries`, the outbox of run webhooks, with the deliverers' claim
- checkpoints.py: LangGraph's checkpoint tables, for what its savers offer no method for

(The store's tables are the store's: python/aegra/store/.)

Functions take the transaction they run in (`sql`, from `db.write()` or `db.read()`) and return
rows read by column name, or plain values. Statements that never change are module constants
(`Prepared`: compiled once); statements that vary per request (filters, auth) are built per call
and compiled through SQLAlchemy's cache (db/statements.py). Services never build SQL.
"""
