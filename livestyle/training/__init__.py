"""Trainers (Johnson, AdaIN) and the Gatys optimiser, sharing one loss network and one loop."""
