"""Image and mask checks, Ground Truth manifest reading and writing."""
