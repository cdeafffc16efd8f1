//! One measured phase: start every subscriber and wait until all are
//! subscribed, start every publisher and wait until all are connected,
//! release the publishers together, wait for them, tell the subscribers
//! the publishers are done, and collect what everyone recorded — with the
//! generator's and the broker's CPU time and the broker's peak memory over
//! the phase.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::{BenchConfig, BrokerKind, SubOptions};
use crate::error::BenchError;
use crate::procstat::{self, ProcSample};
use crate::publisher::{self, PubOutcome, PubPlan};
use crate::recorder::Recorder;
use crate::stamp::now_ns;
use crate::subscriber::{self, SubPlan, SubRole};

/// How often the broker's memory is sampled during a phase.
const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// What every task of a phase shares.
#[derive(Debug)]
pub struct Ctx {
    /// Target broker.
    pub broker: BrokerKind,
    /// Its address.
    pub addr: SocketAddr,
    /// spate subscription options.
    pub sub_options: SubOptions,
    /// Payload size.
    pub payload: usize,
    /// Subscriber idle timeout after the publishers are done.
    pub idle: Duration,
    /// Setup step limit (subscribe confirmations).
    pub timeout: Duration,
    /// Hard end of the phase.
    pub deadline: Instant,
    /// Connect over WebSocket.
    pub ws: bool,
    /// Connect with TLS.
    pub tls: Option<super::tls::BenchTls>,
}

impl Ctx {
    /// The context of a phase starting now.
    pub fn new(cfg: &BenchConfig) -> Ctx {
        Ctx {
            broker: cfg.broker,
            addr: cfg.addr,
            sub_options: cfg.sub_options.clone(),
            payload: cfg.payload,
            idle: cfg.idle,
            timeout: cfg.timeout,
            deadline: Instant::now() + cfg.timeout,
            ws: cfg.ws,
            tls: cfg.tls.clone(),
        }
    }
}

/// A phase to run.
#[derive(Debug, Clone)]
pub struct PhasePlan {
    /// Label in the report.
    pub name: String,
    /// Subscriber connections.
    pub subs: Vec<SubPlan>,
    /// Publisher connections.
    pub pubs: Vec<PubPlan>,
}

/// What a phase measured, before aggregation.
#[derive(Debug)]
pub struct PhaseOutcome {
    /// The plan it ran.
    pub plan: PhasePlan,
    /// When the publishers were released, stamp clock ns.
    pub start_ns: u64,
    /// Per publisher.
    pub pubs: Vec<PubOutcome>,
    /// Per subscriber, in plan order.
    pub subs: Vec<(SubRole, Recorder)>,
    /// Wall time from release to the last subscriber finishing.
    pub wall: Duration,
    /// CPU time the generator used over that span.
    pub gen_cpu: Duration,
    /// CPU time the broker used (when its pid is known).
    pub broker_cpu: Option<Duration>,
    /// Highest broker RSS sampled during the phase, KiB.
    pub broker_peak_rss_kib: Option<u64>,
    /// The deadline cut the phase short.
    pub truncated: bool,
}

/// Runs `plan` against the broker in `cfg`; see the module doc.
pub async fn run(cfg: &BenchConfig, plan: PhasePlan) -> Result<PhaseOutcome, BenchError> {
    let ctx = Arc::new(Ctx::new(cfg));
    let (ready_tx, mut ready_rx) = mpsc::channel(plan.subs.len() + plan.pubs.len() + 1);
    let (done_tx, done_rx) = watch::channel(false);
    let (start_tx, start_rx) = watch::channel(false);

    let subs: Vec<JoinHandle<Recorder>> = plan
        .subs
        .iter()
        .map(|s| {
            tokio::spawn(subscriber::run(
                ctx.clone(),
                s.clone(),
                ready_tx.clone(),
                done_rx.clone(),
            ))
        })
        .collect();
    let abort_all = |subs: &[JoinHandle<Recorder>]| subs.iter().for_each(|h| h.abort());
    if let Err(e) = await_ready(&mut ready_rx, plan.subs.len(), ctx.deadline).await {
        abort_all(&subs);
        return Err(e);
    }
    let pubs: Vec<JoinHandle<PubOutcome>> = plan
        .pubs
        .iter()
        .map(|p| {
            tokio::spawn(publisher::run(
                ctx.clone(),
                p.clone(),
                ready_tx.clone(),
                start_rx.clone(),
            ))
        })
        .collect();
    if let Err(e) = await_ready(&mut ready_rx, plan.pubs.len(), ctx.deadline).await {
        abort_all(&subs);
        pubs.iter().for_each(|h| h.abort());
        return Err(e);
    }

    let sampler = RssSampler::start(cfg.broker_pid);
    let gen_before = procstat::sample(None);
    let broker_before = cfg.broker_pid.and_then(|p| procstat::sample(Some(p)));
    let began = Instant::now();
    let start_ns = now_ns();
    let _ = start_tx.send(true);

    let mut pub_outcomes = Vec::with_capacity(pubs.len());
    for h in pubs {
        pub_outcomes.push(h.await.unwrap_or_else(|e| PubOutcome {
            errors: vec![format!("publisher task failed: {e}")],
            ..PubOutcome::default()
        }));
    }
    let _ = done_tx.send(true);
    let mut sub_outcomes = Vec::with_capacity(subs.len());
    for (h, s) in subs.into_iter().zip(&plan.subs) {
        let rec = h.await.unwrap_or_else(|e| {
            let mut r = Recorder::new(None);
            r.errors.push(format!("subscriber task failed: {e}"));
            r
        });
        sub_outcomes.push((s.role, rec));
    }
    let wall = began.elapsed();
    let cpu = |before: Option<ProcSample>, pid| {
        Some(procstat::sample(pid)?.cpu.saturating_sub(before?.cpu))
    };
    Ok(PhaseOutcome {
        start_ns,
        truncated: Instant::now() >= ctx.deadline || pub_outcomes.iter().any(|p| p.truncated),
        pubs: pub_outcomes,
        subs: sub_outcomes,
        wall,
        gen_cpu: cpu(gen_before, None).unwrap_or_default(),
        broker_cpu: cfg.broker_pid.and_then(|p| cpu(broker_before, Some(p))),
        broker_peak_rss_kib: sampler.stop(),
        plan,
    })
}

async fn await_ready(
    rx: &mut mpsc::Receiver<Result<(), BenchError>>,
    n: usize,
    deadline: Instant,
) -> Result<(), BenchError> {
    for _ in 0..n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(Ok(()))) => {}
            Ok(Some(Err(e))) => return Err(e),
            Ok(None) => return Err(BenchError::Closed("setup")),
            Err(_) => return Err(BenchError::Timeout("setup (connect and subscribe)")),
        }
    }
    Ok(())
}

/// Samples the broker's VmRSS every [`RSS_SAMPLE_EVERY`] on its own
/// thread (so a busy generator runtime cannot starve it) and keeps the
/// maximum.
struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    fn start(pid: Option<u32>) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let thread = pid.map(|pid| {
            let (stop, peak) = (stop.clone(), peak.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(s) = procstat::sample(Some(pid)) {
                        peak.fetch_max(s.rss_kib, Ordering::Relaxed);
                    }
                    std::thread::sleep(RSS_SAMPLE_EVERY);
                }
            })
        });
        RssSampler { stop, peak, thread }
    }

    fn stop(mut self) -> Option<u64> {
        self.stop.store(true, Ordering::Relaxed);
        let t = self.thread.take()?;
        let _ = t.join();
        Some(self.peak.load(Ordering::Relaxed))
    }
}
