"""The API's edge: the FastAPI app, the GraphQL router and what HTTP and WebSockets need."""
