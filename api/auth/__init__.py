"""Who is calling: bearer tokens, the identity they carry, WebSocket sign-in and socket caps."""
