//! `tcp:` checks: a connection opens within the timeout.

use std::time::{Duration, Instant};

use super::{Outcome, Status};

pub async fn check(addr: &str, timeout: Duration) -> Outcome {
    let t = Instant::now();
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => {
            let ms = t.elapsed().as_secs_f64();
            Outcome::new(Status::Ok, format!("connected in {:.0} ms", ms * 1000.0)).metric("time", ms, "s")
        }
        Ok(Err(e)) => Outcome::new(Status::Fail, format!("cannot connect to {addr}: {}", crate::util::io_reason(&e))),
        Err(_) => Outcome::new(
            Status::Fail,
            format!("no connection to {addr} within {}", humantime::format_duration(timeout)),
        ),
    }
}
