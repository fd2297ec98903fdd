"""FastAPI application: routers, dependencies and web pages."""
