//! Turns a [`BenchConfig`] into the phases its scenario runs: who
//! subscribes to what, who publishes where, and how many messages each
//! subscriber must receive. Scenarios that compare two situations (burst:
//! without and with the slow subscriber; wildcards: without and with the
//! non-matching subscriptions) run two phases.

use crate::config::{BenchConfig, BrokerKind, Scenario};
use crate::error::BenchError;
use crate::phase::PhasePlan;
use crate::publisher::PubPlan;
use crate::stamp::STAMP_LEN;
use crate::subscriber::{SubPlan, SubRole};

/// The phases `cfg` runs, in order.
pub fn plans(cfg: &BenchConfig) -> Result<Vec<PhasePlan>, BenchError> {
    validate(cfg)?;
    Ok(match cfg.scenario {
        Scenario::Fanout | Scenario::Latency => {
            vec![single_topic(cfg, cfg.scenario.name(), "bench.fanout", None)]
        }
        Scenario::ManyTopics => vec![many_topics(cfg)],
        Scenario::Burst => vec![
            single_topic(cfg, "without-slow", "bench.burst.a", None),
            single_topic(
                cfg,
                "with-slow",
                "bench.burst.b",
                Some(SubRole::Slow(cfg.slow)),
            ),
        ],
        Scenario::Wildcards => {
            let mut cfg1 = cfg.clone();
            cfg1.subscribers = 1;
            let mut v = vec![single_topic(
                &cfg1,
                "no-wildcards",
                "bench.wild.target",
                None,
            )];
            if cfg.wildcards > 0 {
                let mut p = single_topic(
                    &cfg1,
                    &format!("{}-wildcards", cfg.wildcards),
                    "bench.wild.target",
                    None,
                );
                p.subs.extend(fillers(cfg));
                v.push(p);
            }
            v
        }
    })
}

fn validate(cfg: &BenchConfig) -> Result<(), BenchError> {
    let bad = |m: String| Err(BenchError::Invalid(m));
    if cfg.payload < STAMP_LEN {
        return bad(format!(
            "payload must be at least {STAMP_LEN} bytes (the stamp)"
        ));
    }
    if cfg.publishers == 0 || cfg.messages == 0 {
        return bad("need at least one publisher and one message".into());
    }
    if cfg.messages > u64::from(u32::MAX) {
        return bad("at most 2^32-1 messages per publisher".into());
    }
    if !cfg.addr.ip().is_loopback() {
        return bad(format!("{} is not a loopback address", cfg.addr));
    }
    if cfg.ws && !matches!(cfg.broker, BrokerKind::Spate | BrokerKind::Nats) {
        return bad("--ws is for spate and nats only".into());
    }
    if cfg.broker == BrokerKind::Forwarder
        && !matches!(cfg.scenario, Scenario::Fanout | Scenario::Latency)
    {
        return bad("the forwarder has no topics: only fanout and latency".into());
    }
    if cfg.scenario == Scenario::ManyTopics && (cfg.topics == 0 || cfg.connections == 0) {
        return bad("many-topics needs topics and connections".into());
    }
    if cfg.scenario != Scenario::Wildcards
        && cfg.scenario != Scenario::ManyTopics
        && cfg.subscribers == 0
    {
        return bad("need at least one subscriber".into());
    }
    Ok(())
}

fn rate_per_publisher(cfg: &BenchConfig) -> Option<f64> {
    cfg.rate.map(|r| r as f64 / cfg.publishers as f64)
}

fn publishers(cfg: &BenchConfig, topics: &[String]) -> Vec<PubPlan> {
    (0..cfg.publishers)
        .map(|p| PubPlan {
            id: p as u32,
            topics: topics.to_vec(),
            first_topic: p * topics.len() / cfg.publishers,
            messages: cfg.messages,
            rate: rate_per_publisher(cfg),
        })
        .collect()
}

/// P publishers and S subscribers on one topic, plus an optional extra
/// subscriber (the slow one).
fn single_topic(cfg: &BenchConfig, name: &str, topic: &str, extra: Option<SubRole>) -> PhasePlan {
    let total = cfg.messages * cfg.publishers as u64;
    let sub = |role| SubPlan {
        role,
        patterns: vec![topic.to_string()],
        expected: total,
        track_publishers: Some(cfg.publishers),
    };
    let mut subs: Vec<SubPlan> = (0..cfg.subscribers).map(|_| sub(SubRole::Normal)).collect();
    subs.extend(extra.map(sub));
    PhasePlan {
        name: name.to_string(),
        subs,
        pubs: publishers(cfg, &[topic.to_string()]),
    }
}

/// T topics; subscriber connection c holds the topics i with i % C == c.
fn many_topics(cfg: &BenchConfig) -> PhasePlan {
    let t = cfg.topics;
    let c = cfg.connections.min(t);
    let names: Vec<String> = (0..t).map(|i| format!("bench.mt.{i}")).collect();
    let pubs = publishers(cfg, &names);
    let per_topic = messages_per_topic(&pubs, t);
    let subs = (0..c)
        .map(|k| SubPlan {
            role: SubRole::Normal,
            patterns: (k..t).step_by(c).map(|i| names[i].clone()).collect(),
            expected: (k..t).step_by(c).map(|i| per_topic[i]).sum(),
            track_publishers: None,
        })
        .collect();
    PhasePlan {
        name: format!("{t}-topics"),
        subs,
        pubs,
    }
}

/// How many messages each of `t` topics receives from round-robin
/// publishers.
fn messages_per_topic(pubs: &[PubPlan], t: usize) -> Vec<u64> {
    let mut counts = vec![0u64; t];
    for p in pubs {
        let full = p.messages / t as u64;
        let extra = (p.messages % t as u64) as usize;
        counts.iter_mut().for_each(|c| *c += full);
        for j in 0..extra {
            counts[(p.first_topic + j) % t] += 1;
        }
    }
    counts
}

/// Wildcard patterns that never match `bench.wild.target`, in four shapes
/// that share part of its path (so a trie must miss deep in large child
/// maps, not at the root), spread over the configured connections.
fn fillers(cfg: &BenchConfig) -> Vec<SubPlan> {
    let n = cfg.wildcards;
    let c = cfg.connections.clamp(1, n.max(1));
    (0..c)
        .map(|k| SubPlan {
            role: SubRole::Filler,
            patterns: (k..n)
                .step_by(c)
                .map(|i| match i % 4 {
                    0 => format!("bench.*.x{i}"),
                    1 => format!("*.wild.y{i}"),
                    2 => format!("svc{i}.*.target"),
                    _ => format!("user{i}.>"),
                })
                .collect(),
            expected: 0,
            track_publishers: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SlowMode;

    #[test]
    fn many_topics_expectations_add_up() {
        let mut cfg = BenchConfig::new(Scenario::ManyTopics, BrokerKind::Nats);
        cfg.topics = 7;
        cfg.connections = 3;
        cfg.publishers = 2;
        cfg.messages = 10;
        let p = &plans(&cfg).unwrap()[0];
        assert_eq!(p.subs.len(), 3);
        assert_eq!(p.subs.iter().map(|s| s.patterns.len()).sum::<usize>(), 7);
        assert_eq!(p.subs.iter().map(|s| s.expected).sum::<u64>(), 20);
        // Publisher 1 starts at topic 7*1/2 = 3: topics 3..=5 get 2 from it.
        assert_eq!(messages_per_topic(&p.pubs, 7), vec![3, 3, 3, 3, 3, 3, 2]);
    }

    #[test]
    fn burst_adds_slow_subscriber_in_second_phase() {
        let mut cfg = BenchConfig::new(Scenario::Burst, BrokerKind::Spate);
        cfg.subscribers = 4;
        cfg.slow = SlowMode::Rate(1000);
        let v = plans(&cfg).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].subs.len(), 4);
        assert_eq!(v[1].subs.len(), 5);
        assert_eq!(v[1].subs[4].role, SubRole::Slow(SlowMode::Rate(1000)));
    }

    #[test]
    fn wildcards_never_match_the_target() {
        let mut cfg = BenchConfig::new(Scenario::Wildcards, BrokerKind::Spate);
        cfg.wildcards = 10;
        cfg.connections = 3;
        let v = plans(&cfg).unwrap();
        let pats: Vec<&String> = v[1].subs.iter().flat_map(|s| &s.patterns).collect();
        assert_eq!(pats.len(), 11); // 10 fillers + the matching subscriber
        let topic = ["bench", "wild", "target"];
        for p in pats.iter().filter(|p| p.contains(['*', '>'])) {
            let toks: Vec<&str> = p.split('.').collect();
            assert!(toks
                .iter()
                .zip(topic)
                .any(|(a, b)| !["*", ">", b].contains(a)));
        }
    }

    #[test]
    fn rejects_bad_configs() {
        let mut cfg = BenchConfig::new(Scenario::Fanout, BrokerKind::Spate);
        cfg.payload = 8;
        assert!(plans(&cfg).is_err());
        let cfg = BenchConfig::new(Scenario::ManyTopics, BrokerKind::Forwarder);
        assert!(plans(&cfg).is_err());
        let mut cfg = BenchConfig::new(Scenario::Fanout, BrokerKind::Spate);
        cfg.addr = "10.0.0.1:7411".parse().unwrap();
        assert!(plans(&cfg).is_err());
    }
}
