"""`aegra db export` / `aegra db import`: move a whole Aegra database between SQLite and PostgreSQL.

- `codec.py`     the file: JSON Lines (gzip for `.gz`), header with format version and counts,
                 serde payloads in base64;
- `records.py`   the record kinds: API table rows, checkpoints (with pending writes), store items;
- `backend.py`   one database opened as the server opens it (tables, checkpointer, store);
- `store_io.py`  store items with their times and TTLs; vectors are re-embedded by the target;
- `export.py`, `importer.py` the two directions; `commands.py` the click commands.
"""
