"""docqa: rerank stage."""
