"""The DuckDB side: DDL generated from erd.py, staged Parquet tables, and the ERD-aware IO manager."""
