"""xraylab.physics."""
