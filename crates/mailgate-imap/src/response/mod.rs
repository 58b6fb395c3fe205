//! Server responses: greeting, status, continuation requests and data responses.
