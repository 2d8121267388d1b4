"""SQL of the notifications schema."""
