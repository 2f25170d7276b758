"""HTTP entry point: create_app(), dependencies, problem-details errors and routes."""
