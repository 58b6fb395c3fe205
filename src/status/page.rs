//! The status page: accounts (with a "Sign in" link for each pending authorisation),
//! listeners and recent errors, as plain HTML and CSS that reads on a phone. No script; the
//! page reloads itself every 30 seconds. Every text is escaped.

use std::fmt::Write as _;

use super::board::StatusReport;

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// "in 42 min", "3 h ago" and the like, from Unix seconds.
fn relative(at: u64, now: u64) -> String {
    let (seconds, future) = if at >= now {
        (at - now, true)
    } else {
        (now - at, false)
    };
    let amount = match seconds {
        0..60 => format!("{seconds} s"),
        60..7200 => format!("{} min", seconds / 60),
        7200..172_800 => format!("{} h", seconds / 3600),
        _ => format!("{} days", seconds / 86_400),
    };
    if future {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

const STYLE: &str = "\
:root{color-scheme:light dark;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--line:#8884}\
body{font:16px/1.45 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem}\
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}\
.summary{padding:.6rem .8rem;border-radius:.4rem;border:1px solid var(--line)}\
.summary.ok{border-color:var(--ok)}.summary.attention{border-color:var(--bad)}\
.state{font-weight:600}.state.ok{color:var(--ok)}.state.failing{color:var(--warn)}\
.state.needs-authorisation{color:var(--bad)}\
.card{border:1px solid var(--line);border-radius:.4rem;padding:.6rem .8rem;margin:.5rem 0;\
overflow-wrap:anywhere}\
.card h3{font-size:1rem;margin:0 0 .3rem}.card dl{display:grid;\
grid-template-columns:max-content 1fr;gap:.1rem .8rem;margin:0}.card dt{opacity:.75}\
.card dd{margin:0}\
a.signin{display:inline-block;margin:.4rem 0;padding:.5rem .9rem;border-radius:.4rem;\
background:#0969da;color:#fff;text-decoration:none;font-weight:600}\
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .5rem;\
border-bottom:1px solid var(--line);vertical-align:top}\
@media (max-width:40rem){table,thead,tbody,tr,td,th{display:block}thead{display:none}\
tr{border:1px solid var(--line);border-radius:.4rem;margin:.5rem 0;padding:.3rem}\
td{border:0;padding:.15rem .4rem}td::before{content:attr(data-label) \": \";opacity:.75}}\
footer{margin-top:2rem;font-size:.85rem;opacity:.75}";

/// The page for `report` at `now` (Unix seconds).
pub(crate) fn render(report: &StatusReport, now: u64) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"30\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>mailgate status</title><style>{STYLE}</style></head><body>\
         <h1>mailgate</h1>"
    );
    let _ = write!(
        html,
        "<p id=\"summary\" class=\"summary {}\">",
        escape(report.state)
    );
    if report.problems.is_empty() {
        html.push_str("All accounts are well.");
    } else {
        html.push_str("Needs attention:<br>");
        for problem in &report.problems {
            let _ = write!(html, "{}<br>", escape(problem));
        }
    }
    html.push_str("</p><h2>Accounts</h2>");
    if report.accounts.is_empty() {
        html.push_str("<p>No account has logged in since the proxy started.</p>");
    }
    for account in &report.accounts {
        let details = &account.details;
        let _ = write!(
            html,
            "<section class=\"card account\" data-account=\"{0}\"><h3>{0}</h3>\
             <span class=\"state {1}\">{2}</span>",
            escape(&account.account),
            escape(account.state),
            match account.state {
                "ok" => "OK",
                "failing" => "Refresh failing",
                _ => "Needs authorisation",
            }
        );
        if let Some(url) = &account.authorisation_url {
            let _ = write!(
                html,
                "<br><a class=\"signin\" href=\"{}\" rel=\"noreferrer noopener\" \
                 target=\"_blank\">Sign in</a>",
                escape(url)
            );
            if let Some(code) = &account.device_code {
                let _ = write!(
                    html,
                    "<p>Enter the code <code class=\"device-code\">{}</code> there.</p>",
                    escape(code)
                );
            }
        } else if let Some(reason) = &details.needs_authorisation {
            let _ = write!(
                html,
                "<p>{} The next login of a client starts the authorisation.</p>",
                escape(reason)
            );
        }
        html.push_str("<dl>");
        if !details.flow.is_empty() {
            let _ = write!(html, "<dt>Flow</dt><dd>{}</dd>", escape(&details.flow));
        }
        if let Some(expiry) = details.access_token_expires_at {
            let _ = write!(
                html,
                "<dt>Access token</dt><dd>expires {}</dd>",
                relative(expiry, now)
            );
        }
        let _ = write!(
            html,
            "<dt>Logins</dt><dd>{} ({} failed)</dd>",
            details.logins, details.failures
        );
        if let Some(at) = details.last_login {
            let _ = write!(html, "<dt>Last login</dt><dd>{}</dd>", relative(at, now));
        }
        if let Some(refresh) = &details.last_refresh {
            let _ = write!(
                html,
                "<dt>Last refresh</dt><dd>{} {}</dd>",
                relative(refresh.at, now),
                if refresh.ok {
                    "(succeeded)"
                } else {
                    "(failed)"
                }
            );
        }
        if let Some(error) = &details.last_error {
            let _ = write!(html, "<dt>Last error</dt><dd>{}</dd>", escape(error));
        }
        html.push_str("</dl></section>");
    }
    html.push_str(
        "<h2>Listeners</h2><table id=\"listeners\"><thead><tr><th>Listener</th><th>Address</th>\
         <th>Server</th><th>TLS</th><th>Open</th><th>Sessions</th><th>Logins</th>\
         <th>Failed</th></tr></thead><tbody>",
    );
    for listener in &report.listeners {
        let _ = write!(
            html,
            "<tr><td data-label=\"Listener\">{}</td><td data-label=\"Address\">{}</td>\
             <td data-label=\"Server\">{}</td><td data-label=\"TLS\">{}</td>\
             <td data-label=\"Open\">{}</td><td data-label=\"Sessions\">{}</td>\
             <td data-label=\"Logins\">{}</td><td data-label=\"Failed\">{}</td></tr>",
            escape(&listener.section),
            escape(&listener.address),
            escape(&listener.server),
            escape(listener.tls),
            listener.open_sessions,
            listener.sessions,
            listener.logins,
            listener.failed_logins
        );
    }
    html.push_str("</tbody></table><h2>Recent errors</h2>");
    if report.recent_errors.is_empty() {
        html.push_str("<p>None.</p>");
    } else {
        html.push_str("<table id=\"errors\"><thead><tr><th>When</th><th>Account</th><th>Error</th></tr></thead><tbody>");
        for error in &report.recent_errors {
            let _ = write!(
                html,
                "<tr><td data-label=\"When\">{}</td><td data-label=\"Account\">{}</td>\
                 <td data-label=\"Error\">{}</td></tr>",
                relative(error.at, now),
                escape(&error.account),
                escape(&error.message)
            );
        }
        html.push_str("</tbody></table>");
    }
    let _ = writeln!(
        html,
        "<footer>mailgate {} · started {} · <a href=\"/status.json\">JSON</a> · \
         <a href=\"/metrics\">metrics</a></footer></body></html>",
        escape(report.version),
        relative(report.started_at, now)
    );
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_times_read_well() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(relative(1000, 1000), "in 0 s");
        assert_eq!(relative(1000 + 3600, 1000), "in 60 min");
        assert_eq!(relative(1000, 1000 + 3 * 3600), "3 h ago");
        assert_eq!(relative(0, 5 * 86_400), "5 days ago");
    }
}
