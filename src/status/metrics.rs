//! `/metrics`: the proxy's counters in the Prometheus (OpenMetrics) text format, read at each
//! scrape from the listeners' statistics and the board. Every series is prefixed `mailgate_`.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::board::Board;
use std::sync::atomic::Ordering;

/// Reads the board and the listeners at each scrape.
#[derive(Clone)]
struct BoardCollector(Board);

impl fmt::Debug for BoardCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoardCollector")
    }
}

/// One family of series: `name` (counters get `_total` from the encoder), its help, its type,
/// and the labelled values.
fn family(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    kind: MetricType,
    series: &[(Vec<(&str, &str)>, u64)],
) -> fmt::Result {
    let encode = |metric: prometheus_client::encoding::MetricEncoder<'_>, value: u64| match kind {
        MetricType::Gauge => {
            ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX)).encode(metric)
        }
        _ => ConstCounter::new(value).encode(metric),
    };
    let mut family = encoder.encode_descriptor(name, help, None, kind)?;
    if let [(labels, value)] = series
        && labels.is_empty()
    {
        return encode(family, *value);
    }
    for (labels, value) in series {
        encode(family.encode_family(labels)?, *value)?;
    }
    Ok(())
}

impl Collector for BoardCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let listeners = self.0.proxy().map(|p| p.snapshot()).unwrap_or_default();
        let protocols: Vec<String> = listeners.iter().map(|l| l.protocol.to_string()).collect();
        let per_listener = |value: &dyn Fn(&mailgate_proxy::ListenerSnapshot) -> u64| {
            listeners
                .iter()
                .zip(&protocols)
                .map(|(l, protocol)| {
                    (
                        vec![
                            ("listener", l.section.as_str()),
                            ("protocol", protocol.as_str()),
                        ],
                        value(l),
                    )
                })
                .collect::<Vec<_>>()
        };
        family(
            &mut encoder,
            "mailgate_sessions_open",
            "Sessions open now (before and after login), per listener.",
            MetricType::Gauge,
            &per_listener(&|l| l.open_sessions),
        )?;
        family(
            &mut encoder,
            "mailgate_upstream_connecting",
            "Upstream connections being set up now, per listener.",
            MetricType::Gauge,
            &per_listener(&|l| l.connecting),
        )?;
        family(
            &mut encoder,
            "mailgate_sessions",
            "Sessions admitted since start, per listener.",
            MetricType::Counter,
            &per_listener(&|l| l.sessions),
        )?;
        family(
            &mut encoder,
            "mailgate_connections_refused",
            "Connections refused by a limit (max_connections, max_connections_per_address, \
             max_connection_attempts), per listener.",
            MetricType::Counter,
            &per_listener(&|l| l.refused),
        )?;
        let mut logins = Vec::new();
        let mut bytes = Vec::new();
        let mut failures = Vec::new();
        for (l, protocol) in listeners.iter().zip(&protocols) {
            let labels = |key: &'static str, value: &'static str| {
                vec![
                    ("listener", l.section.as_str()),
                    ("protocol", protocol.as_str()),
                    (key, value),
                ]
            };
            logins.push((labels("outcome", "success"), l.logins_success));
            logins.push((labels("outcome", "rejected"), l.logins_rejected));
            logins.push((labels("outcome", "unavailable"), l.logins_unavailable));
            logins.push((
                labels("outcome", "upstream_refused"),
                l.logins_upstream_refused,
            ));
            bytes.push((labels("direction", "from_client"), l.bytes_from_client));
            bytes.push((labels("direction", "from_server"), l.bytes_from_server));
            failures.push((labels("step", "connect"), l.connect_failures));
            failures.push((labels("step", "tls"), l.tls_failures));
            failures.push((labels("step", "greeting"), l.greeting_failures));
        }
        family(
            &mut encoder,
            "mailgate_logins",
            "Login attempts by outcome: success (relayed), rejected (before anything was sent \
             upstream), unavailable (token endpoint unreachable or slow), upstream_refused (the \
             server refused the token).",
            MetricType::Counter,
            &logins,
        )?;
        family(
            &mut encoder,
            "mailgate_relayed_bytes",
            "Bytes relayed by ended sessions, by direction.",
            MetricType::Counter,
            &bytes,
        )?;
        family(
            &mut encoder,
            "mailgate_upstream_failures",
            "Upstream connections that failed before login, by step (connect, tls, greeting).",
            MetricType::Counter,
            &failures,
        )?;
        let tokens = self.0.events().counters();
        let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        let requests = self.0.events().requests();
        let mut series: Vec<(Vec<(&str, &str)>, u64)> = requests
            .iter()
            .map(|((grant, outcome), count)| {
                (
                    vec![("grant", grant.as_str()), ("outcome", *outcome)],
                    *count,
                )
            })
            .collect();
        if series.is_empty() {
            series.push((vec![("grant", "none"), ("outcome", "success")], 0));
        }
        family(
            &mut encoder,
            "mailgate_token_requests",
            "Token requests by grant (refresh_token, or the account's flow for a new token) and \
             outcome (success, failure).",
            MetricType::Counter,
            &series,
        )?;
        family(
            &mut encoder,
            "mailgate_tokens_invalidated",
            "Access tokens the server refused (dropped from the store).",
            MetricType::Counter,
            &[(vec![], load(&tokens.invalidated))],
        )?;
        family(
            &mut encoder,
            "mailgate_refresh_failures",
            "Proactive refreshes that failed.",
            MetricType::Counter,
            &[(vec![], load(&tokens.refresh_failures))],
        )?;
        let needing = self.0.needing_authorisation();
        let pending = needing.iter().filter(|(_, url)| url.is_some()).count() as u64;
        family(
            &mut encoder,
            "mailgate_authorisations_pending",
            "Interactive authorisations waiting for the user.",
            MetricType::Gauge,
            &[(vec![], pending)],
        )?;
        family(
            &mut encoder,
            "mailgate_accounts_needing_authorisation",
            "Accounts that need an interactive authorisation (pending, or their refresh token \
             was refused).",
            MetricType::Gauge,
            &[(vec![], needing.len() as u64)],
        )?;
        Ok(())
    }
}

/// The registry of `board`'s metrics.
pub(crate) fn registry(board: &Board) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(BoardCollector(board.clone())));
    registry
}

/// The text of a scrape.
pub(crate) fn render(registry: &Registry) -> Result<String, fmt::Error> {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry)?;
    Ok(text)
}
