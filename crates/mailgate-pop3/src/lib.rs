//! Sans-I/O POP3 codec and client/server session machines (RFC 1939, 2449, 2595, 5034).
#![forbid(unsafe_code)]
