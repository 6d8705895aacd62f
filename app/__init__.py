"""docqa: app stage."""
