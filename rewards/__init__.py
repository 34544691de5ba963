"""rankrl: rewards."""
