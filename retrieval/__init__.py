"""docqa: retrieval stage."""
