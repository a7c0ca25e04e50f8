//! Values of ccops.yaml that read and check themselves: a percentage (`80%`) and a
//! restart loop (`3 in 10m`). A bad one is refused at load with what to write instead.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A percentage in ccops.yaml, `80%` or `80`, above 0 and at most 100.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(into = "String")]
pub struct Percent(pub f64);

impl Percent {
    pub(super) fn p80() -> Self {
        Percent(80.0)
    }

    pub(super) fn p90() -> Self {
        Percent(90.0)
    }
}

impl std::fmt::Display for Percent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}%", self.0)
    }
}

impl From<Percent> for String {
    fn from(p: Percent) -> String {
        p.to_string()
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(f64),
            S(String),
        }
        let (text, n) = match Raw::deserialize(d)? {
            Raw::N(n) => (n.to_string(), Some(n)),
            Raw::S(s) => (s.clone(), s.trim().trim_end_matches('%').trim().parse::<f64>().ok()),
        };
        match n {
            Some(n) if n > 0.0 && n <= 100.0 => Ok(Percent(n)),
            _ => Err(serde::de::Error::custom(format!(
                "`{text}` is not a percentage above 0 and at most 100; write e.g. `80%`"
            ))),
        }
    }
}

/// `restarts_fail`: `N in DURATION`, a restart loop (default `3 in 10m`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(into = "String")]
pub struct RestartLoop {
    pub count: u32,
    pub within: Duration,
}

impl Default for RestartLoop {
    fn default() -> Self {
        RestartLoop { count: 3, within: Duration::from_secs(600) }
    }
}

impl std::fmt::Display for RestartLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} in {}", self.count, humantime::format_duration(self.within))
    }
}

impl From<RestartLoop> for String {
    fn from(r: RestartLoop) -> String {
        r.to_string()
    }
}

impl std::str::FromStr for RestartLoop {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a restart loop; write `N in DURATION`, e.g. `3 in 10m`");
        let (n, within) = s.split_once(" in ").ok_or_else(bad)?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        let within = humantime::parse_duration(within.trim()).map_err(|_| bad())?;
        if count == 0 || within.is_zero() {
            return Err(bad());
        }
        Ok(RestartLoop { count, within })
    }
}

impl<'de> Deserialize<'de> for RestartLoop {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}
