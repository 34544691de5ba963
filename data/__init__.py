"""rankrl: data."""
