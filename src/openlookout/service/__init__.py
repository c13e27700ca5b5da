"""The rules of the service, one module per resource; framework-free."""
