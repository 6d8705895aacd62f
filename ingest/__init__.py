"""docqa: ingest stage."""
