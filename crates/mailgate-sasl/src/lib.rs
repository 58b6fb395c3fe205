//! Sans-I/O SASL mechanisms: PLAIN and LOGIN for servers, XOAUTH2, OAUTHBEARER, PLAIN and LOGIN for clients.
#![forbid(unsafe_code)]
