"""HTTP plumbing shared by the API and the console: bounded request bodies and connection timeouts."""
