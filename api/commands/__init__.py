"""How the API reaches the write side: commands and sagas, sent through Temporal."""
