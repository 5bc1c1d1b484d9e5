"""xraylab.degrade."""
