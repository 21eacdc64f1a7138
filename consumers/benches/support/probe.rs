//! A consumer that only measures: the time from each task event's commit (its `time`)
//! to its delivery. Shared by the latency benchmarks of the embedded bus and of Dapr
//! (`api/benches/dapr.rs` includes this file).

use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use errand_consumers::{Delivery, Handler, HandlerFuture};
use errand_domain::event::topics;

/// Records commit-to-delivery latency of every task event it is given.
#[derive(Default)]
pub struct Probe {
    pub latencies: Mutex<Vec<Duration>>,
}

impl Handler for Probe {
    fn name(&self) -> &'static str {
        "latency-probe"
    }

    fn topics(&self) -> &'static [&'static str] {
        &[topics::TODO]
    }

    fn handle<'a>(&'a self, delivery: &'a Delivery) -> HandlerFuture<'a> {
        let latency = (Utc::now() - delivery.event.time).to_std().unwrap_or_default();
        self.latencies.lock().unwrap().push(latency);
        Box::pin(async { Ok(()) })
    }
}
