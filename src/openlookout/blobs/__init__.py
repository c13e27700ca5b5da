"""Content-addressed storage of the service's own copies of images, masks and model files."""
