"""docqa: generation stage."""
