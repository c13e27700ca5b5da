"""The API model (interface facts only: operations, shapes, constraints) and its loader."""
