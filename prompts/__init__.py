"""rankrl: prompts."""
