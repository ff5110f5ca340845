"""Land Qualtrics users, surveys, questions and responses in DuckDB as a documented ERD."""
