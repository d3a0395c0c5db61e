"""The SQL backends (SQLite through aiosqlite, PostgreSQL through asyncpg), on SQLAlchemy Core."""
