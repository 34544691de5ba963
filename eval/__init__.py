"""rankrl: eval."""
