//! The grants of the token endpoint and their exact form parameters.

use zeroize::Zeroizing;

use crate::SecretString;

/// `grant_type` of the JWT bearer grant (RFC 7523 §2.1), used by Google service accounts.
pub(crate) const JWT_BEARER_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub(crate) const JWT_CLIENT_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How the client authenticates at the token endpoint. Credentials go in the form body, as the Python
/// email-oauth2-proxy sends them.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum ClientAuth {
    /// Public client: `client_id` only (e.g. Office 365 apps without a secret).
    #[default]
    None,
    /// `client_secret` in the body.
    Secret(SecretString),
    /// A signed JWT in `client_assertion` with
    /// `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    Assertion(SecretString),
}

/// One token request grant. The device code grant is not one: its polling loop is
/// [`poll_device_token`](super::poll_device_token).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Grant<'a> {
    /// Authorization code grant (RFC 6749 §4.1.3), with the PKCE verifier when one was used.
    AuthorizationCode {
        /// The code from the redirect.
        code: &'a SecretString,
        /// `redirect_uri` as sent in the authorization request.
        redirect_uri: Option<&'a str>,
        /// PKCE `code_verifier` (RFC 7636).
        code_verifier: Option<&'a SecretString>,
    },
    /// Client credentials grant (RFC 6749 §4.4).
    ClientCredentials {
        /// `oauth2_scope`.
        scope: Option<&'a str>,
        /// `redirect_uri`, sent only when configured (as the Python email-oauth2-proxy).
        redirect_uri: Option<&'a str>,
    },
    /// Resource owner password credentials grant (RFC 6749 §4.3), plus the non-standard
    /// `resource` parameter some providers (21Vianet's Office 365) use instead of `scope`.
    Password {
        /// The login username.
        username: &'a str,
        /// The login password.
        password: &'a SecretString,
        /// `oauth2_scope`.
        scope: Option<&'a str>,
        /// `oauth2_resource`.
        resource: Option<&'a str>,
        /// `redirect_uri`, sent only when configured (as the Python email-oauth2-proxy).
        redirect_uri: Option<&'a str>,
    },
    /// Refresh token grant (RFC 6749 §6). No scope is sent, as the Python email-oauth2-proxy.
    RefreshToken {
        /// The refresh token.
        refresh_token: &'a SecretString,
    },
    /// JWT bearer grant (RFC 7523 §2.1): a Google service account's signed assertion. No client
    /// authentication is sent with it.
    JwtBearer {
        /// The signed JWT.
        assertion: &'a SecretString,
    },
}

impl Grant<'_> {
    /// The `grant_type` value.
    pub fn grant_type(&self) -> &'static str {
        match self {
            Grant::AuthorizationCode { .. } => "authorization_code",
            Grant::ClientCredentials { .. } => "client_credentials",
            Grant::Password { .. } => "password",
            Grant::RefreshToken { .. } => "refresh_token",
            Grant::JwtBearer { .. } => JWT_BEARER_GRANT_TYPE,
        }
    }

    /// The form parameters of the request, in the Python email-oauth2-proxy's order.
    ///
    /// ```
    /// use mailgate_token::SecretString;
    /// use mailgate_token::oauth::{ClientAuth, Grant};
    ///
    /// let refresh = SecretString::from("RT");
    /// let grant = Grant::RefreshToken { refresh_token: &refresh };
    /// let params = grant.form_params("app", &ClientAuth::Secret("s".into()));
    /// let names: Vec<_> = params.iter().map(|(n, v)| format!("{n}={}", v.as_str())).collect();
    /// assert_eq!(names, ["client_id=app", "client_secret=s", "refresh_token=RT", "grant_type=refresh_token"]);
    /// ```
    pub fn form_params(
        &self,
        client_id: &str,
        auth: &ClientAuth,
    ) -> Vec<(&'static str, Zeroizing<String>)> {
        let mut params: Vec<(&'static str, Zeroizing<String>)> = Vec::with_capacity(10);
        let mut push = |name: &'static str, value: &str| {
            params.push((name, Zeroizing::new(value.to_owned())));
        };
        if let Grant::JwtBearer { assertion } = self {
            push("grant_type", JWT_BEARER_GRANT_TYPE);
            push("assertion", assertion.expose());
            return params;
        }
        push("client_id", client_id);
        if let ClientAuth::Secret(secret) = auth {
            push("client_secret", secret.expose());
        }
        // A JWT client assertion follows `grant_type` (and the PKCE verifier), before the
        // grant's own parameters, where the Python email-oauth2-proxy adds it.
        let assertion = match auth {
            ClientAuth::Assertion(assertion) => Some(assertion),
            ClientAuth::None | ClientAuth::Secret(_) => None,
        };
        let push_assertion = |push: &mut dyn FnMut(&'static str, &str)| {
            if let Some(assertion) = assertion {
                push("client_assertion_type", JWT_CLIENT_ASSERTION_TYPE);
                push("client_assertion", assertion.expose());
            }
        };
        match self {
            Grant::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => {
                push("code", code.expose());
                if let Some(uri) = redirect_uri {
                    push("redirect_uri", uri);
                }
                push("grant_type", self.grant_type());
                if let Some(verifier) = code_verifier {
                    push("code_verifier", verifier.expose());
                }
                push_assertion(&mut push);
            }
            Grant::RefreshToken { refresh_token } => {
                push("refresh_token", refresh_token.expose());
                push("grant_type", self.grant_type());
                push_assertion(&mut push);
            }
            Grant::ClientCredentials {
                scope,
                redirect_uri,
            } => {
                if let Some(uri) = redirect_uri {
                    push("redirect_uri", uri);
                }
                push("grant_type", self.grant_type());
                push_assertion(&mut push);
                push("scope", scope.unwrap_or_default());
            }
            Grant::Password {
                username,
                password,
                scope,
                resource,
                redirect_uri,
            } => {
                if let Some(uri) = redirect_uri {
                    push("redirect_uri", uri);
                }
                push("grant_type", self.grant_type());
                push_assertion(&mut push);
                // With a resource and no scope, the scope is left out (GitHub #351 of the Python email-oauth2-proxy).
                if scope.is_some() || resource.is_none() {
                    push("scope", scope.unwrap_or_default());
                }
                push("username", username);
                push("password", password.expose());
                if let Some(resource) = resource {
                    push("resource", resource);
                }
            }
            Grant::JwtBearer { .. } => {}
        }
        params
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(grant: &Grant<'_>, auth: &ClientAuth) -> String {
        grant
            .form_params("cid", auth)
            .iter()
            .map(|(n, v)| format!("{n}={}", v.as_str()))
            .collect::<Vec<_>>()
            .join("&")
    }

    #[test]
    fn exact_parameters_table() {
        let code = SecretString::from("C");
        let verifier = SecretString::from("V");
        let password = SecretString::from("P");
        let refresh = SecretString::from("R");
        let jwt = SecretString::from("J");
        let secret = ClientAuth::Secret("S".into());
        let assertion = ClientAuth::Assertion("A".into());
        let none = ClientAuth::None;
        let cases: Vec<(Grant<'_>, &ClientAuth, &str)> = vec![
            (
                Grant::AuthorizationCode {
                    code: &code,
                    redirect_uri: Some("http://localhost"),
                    code_verifier: Some(&verifier),
                },
                &secret,
                "client_id=cid&client_secret=S&code=C&redirect_uri=http://localhost&grant_type=authorization_code&code_verifier=V",
            ),
            (
                Grant::AuthorizationCode {
                    code: &code,
                    redirect_uri: Some("r"),
                    code_verifier: None,
                },
                &assertion,
                "client_id=cid&code=C&redirect_uri=r&grant_type=authorization_code&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=A",
            ),
            (
                Grant::ClientCredentials {
                    scope: Some("https://outlook.office365.com/.default"),
                    redirect_uri: None,
                },
                &secret,
                "client_id=cid&client_secret=S&grant_type=client_credentials&scope=https://outlook.office365.com/.default",
            ),
            (
                Grant::AuthorizationCode {
                    code: &code,
                    redirect_uri: Some("r"),
                    code_verifier: Some(&verifier),
                },
                &assertion,
                "client_id=cid&code=C&redirect_uri=r&grant_type=authorization_code&code_verifier=V&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=A",
            ),
            (
                Grant::ClientCredentials {
                    scope: Some("s"),
                    redirect_uri: None,
                },
                &assertion,
                "client_id=cid&grant_type=client_credentials&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=A&scope=s",
            ),
            (
                Grant::Password {
                    username: "u@x",
                    password: &password,
                    scope: None,
                    resource: Some("res"),
                    redirect_uri: None,
                },
                &assertion,
                "client_id=cid&grant_type=password&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=A&username=u@x&password=P&resource=res",
            ),
            (
                Grant::Password {
                    username: "u@x",
                    password: &password,
                    scope: None,
                    resource: Some("res"),
                    redirect_uri: None,
                },
                &none,
                "client_id=cid&grant_type=password&username=u@x&password=P&resource=res",
            ),
            (
                Grant::Password {
                    username: "u@x",
                    password: &password,
                    scope: Some("s"),
                    resource: Some("res"),
                    redirect_uri: Some("r"),
                },
                &none,
                "client_id=cid&redirect_uri=r&grant_type=password&scope=s&username=u@x&password=P&resource=res",
            ),
            (
                Grant::RefreshToken {
                    refresh_token: &refresh,
                },
                &assertion,
                "client_id=cid&refresh_token=R&grant_type=refresh_token&client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer&client_assertion=A",
            ),
            (
                Grant::JwtBearer { assertion: &jwt },
                &secret,
                "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=J",
            ),
        ];
        for (grant, auth, expected) in cases {
            assert_eq!(render(&grant, auth), expected);
        }
    }
}
