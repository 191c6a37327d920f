"""Custom actions. They are thin: each calls the API through `ApiClient` and utters a response."""
