"""rankrl: rl."""
