"""Software-defined assets: account tables (users, surveys) and per-survey tables."""
