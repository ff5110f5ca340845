"""The DuckDB side: DDL generated from erd.py, staged batches, and the ERD-aware IO manager."""
