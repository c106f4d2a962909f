//! The coordinator: the one task that owns the Runtime API server's state (the counters, the
//! invocation in flight, the held `/next` calls, the histogram). It hands out events, checks
//! each answer against the event it echoes, and reports the phase boundaries as [`Milestone`]s.

use super::*;

/// The single owner of the server's state.
pub(super) struct Coordinator {
    config: ApiConfig,
    arn: HeaderValue,
    milestones: mpsc::Sender<Milestone>,
    stats: ApiStats,
    issued: u64,
    answered: u64,
    in_flight: Option<(String, Instant)>,
    init_seen: bool,
    warm_seen: bool,
    done_seen: bool,
    measured_start: Option<Instant>,
    /// `/next` calls that are held: after the last event, or a second concurrent one.
    parked: Vec<oneshot::Sender<NextReply>>,
}

impl Coordinator {
    pub(super) fn new(
        config: ApiConfig,
        arn: HeaderValue,
        milestones: mpsc::Sender<Milestone>,
    ) -> Self {
        Self {
            config,
            arn,
            milestones,
            stats: ApiStats::default(),
            issued: 0,
            answered: 0,
            in_flight: None,
            init_seen: false,
            warm_seen: false,
            done_seen: false,
            measured_start: None,
            parked: Vec::new(),
        }
    }

    fn total(&self) -> u64 {
        self.config.warmup + self.config.invocations
    }

    async fn milestone(&self, phase: Phase, at: Instant) {
        let (tx, rx) = oneshot::channel();
        if self
            .milestones
            .send(Milestone {
                phase,
                at,
                resume: tx,
            })
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
    }

    pub(super) async fn run(mut self, mut requests: mpsc::Receiver<ApiRequest>) {
        while let Some(request) = requests.recv().await {
            match request {
                ApiRequest::Next { at, reply } => self.on_next(at, reply).await,
                ApiRequest::Answer {
                    at,
                    id,
                    kind,
                    reply,
                } => {
                    let answer = self.on_answer(at, id, kind);
                    let _ = reply.send(answer);
                }
                ApiRequest::InitError { at, body, queued } => {
                    let (tx, rx) = oneshot::channel();
                    let milestone = Milestone {
                        phase: Phase::InitError(body),
                        at,
                        resume: tx,
                    };
                    if self.milestones.send(milestone).await.is_ok() {
                        let _ = queued.send(());
                        let _ = rx.await;
                    }
                }
                ApiRequest::Refused(what) => {
                    *self.stats.refused.entry(what).or_default() += 1;
                }
                ApiRequest::Finish(reply) => {
                    let _ = reply.send(self.stats);
                    return;
                }
            }
        }
    }

    async fn on_next(&mut self, at: Instant, reply: oneshot::Sender<NextReply>) {
        if self.in_flight.is_some() {
            // A second `/next` while an event is out: a single-concurrency runtime never does
            // this. Hold it rather than hand out two events.
            self.parked.push(reply);
            return;
        }
        if !self.init_seen {
            self.init_seen = true;
            self.milestone(Phase::Init, at).await;
        }
        if self.config.warmup > 0 && self.answered == self.config.warmup && !self.warm_seen {
            self.warm_seen = true;
            self.milestone(Phase::WarmedUp, at).await;
        }
        if self.issued >= self.total() {
            if !self.done_seen {
                self.done_seen = true;
                self.milestone(Phase::Done, at).await;
            }
            self.parked.push(reply);
            return;
        }
        let id = uuid::Uuid::new_v4().to_string();
        let now_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let deadline_ms = (now_epoch + self.config.timeout).as_millis();
        let trace_id = trace_id(now_epoch.as_secs());
        let event = NextReply::Event {
            id: id.clone(),
            deadline_ms,
            trace_id,
            arn: self.arn.clone(),
            body: self.config.payload.clone(),
        };
        let sent = Instant::now();
        if reply.send(event).is_err() {
            // The runtime went away between asking and answering; the harness notices the exit.
            return;
        }
        if self.issued == self.config.warmup {
            self.measured_start = Some(sent);
        }
        self.issued += 1;
        self.in_flight = Some((id, sent));
    }

    fn on_answer(&mut self, at: Instant, id: String, kind: AnswerKind) -> (StatusCode, String) {
        let sent = match &self.in_flight {
            Some((current, sent)) if *current == id => *sent,
            _ => {
                *self
                    .stats
                    .refused
                    .entry("400 answer for an unknown or finished request id".into())
                    .or_default() += 1;
                return (
                    StatusCode::BAD_REQUEST,
                    error_doc(
                        "InvalidRequestID",
                        &format!("request id {id} is not the invocation in progress"),
                    ),
                );
            }
        };
        self.in_flight = None;
        self.answered += 1;
        let measured = self.answered > self.config.warmup;
        if self.answered == self.total() {
            if let Some(start) = self.measured_start {
                self.stats.measured_wall = at.saturating_duration_since(start);
            }
        }
        let accepted = (StatusCode::ACCEPTED, r#"{"status":"OK"}"#.to_string());
        match kind {
            AnswerKind::Response(body) => {
                if measured {
                    if self.config.check_echo && !same_json(&body, &self.config.payload) {
                        self.stats.mismatches += 1;
                    } else {
                        self.stats.ok += 1;
                        self.stats
                            .latency
                            .record(at.saturating_duration_since(sent));
                    }
                }
                accepted
            }
            AnswerKind::Error(error_type) => {
                if measured {
                    *self.stats.function_errors.entry(error_type).or_default() += 1;
                }
                accepted
            }
            AnswerKind::TooLarge => {
                if measured {
                    *self
                        .stats
                        .function_errors
                        .entry("Function.ResponseSizeTooLarge".into())
                        .or_default() += 1;
                }
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    error_doc(
                        "RequestEntityTooLarge",
                        &format!("response exceeds {MAX_RESPONSE_BYTES} bytes"),
                    ),
                )
            }
        }
    }
}

/// Equal bytes, or equal as JSON values (a runtime may reorder keys or change spacing).
fn same_json(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    match (
        serde_json::from_slice::<serde_json::Value>(a),
        serde_json::from_slice::<serde_json::Value>(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// An X-Ray trace header: `Root=1-<epoch hex>-<24 hex>;Parent=<16 hex>;Sampled=0`.
fn trace_id(epoch_secs: u64) -> String {
    let root = uuid::Uuid::new_v4().simple().to_string();
    let parent = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{:08x}-{};Parent={};Sampled=0",
        epoch_secs as u32,
        &root[..24],
        &parent[..16]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_have_the_xray_shape() {
        let t = trace_id(0x6543_2100);
        let parts: Vec<&str> = t.split(';').collect();
        assert_eq!(parts.len(), 3);
        let root = parts[0].strip_prefix("Root=1-65432100-").unwrap();
        assert_eq!(root.len(), 24);
        assert!(root.chars().all(|c| c.is_ascii_hexdigit()));
        let parent = parts[1].strip_prefix("Parent=").unwrap();
        assert_eq!(parent.len(), 16);
        assert_eq!(parts[2], "Sampled=0");
    }

    #[test]
    fn echo_check_ignores_key_order_and_spacing() {
        assert!(same_json(br#"{"a":1,"b":2}"#, br#"{ "b": 2, "a": 1 }"#));
        assert!(!same_json(br#"{"a":1}"#, br#"{"a":2}"#));
        assert!(!same_json(b"not json", br#"{"a":1}"#));
        assert!(same_json(b"not json", b"not json"));
    }
}
