//! `disk:` checks: free space of the filesystem holding a path, in percent.

use super::{Outcome, Status};

pub fn check(path: &str, min_free_percent: f64) -> Outcome {
    match free_percent(path) {
        Ok((pct, avail)) => {
            let status = if pct < min_free_percent { Status::Fail } else { Status::Ok };
            Outcome::new(
                status,
                format!("{pct:.1}% free ({} available, minimum {min_free_percent}%)", crate::util::human_bytes(avail)),
            )
            .metric("free", pct, "%")
        }
        Err(e) => Outcome::new(Status::Fail, format!("cannot read free space of {path}: {e}")),
    }
}

/// (free percent for unprivileged users, available bytes) of the filesystem of `path`.
pub fn free_percent(path: &str) -> Result<(f64, u64), String> {
    let c = std::ffi::CString::new(path).map_err(|_| "path contains a NUL byte".to_string())?;
    // SAFETY: `c` is a valid C string and `st` a properly sized out-parameter.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(crate::util::io_reason(&std::io::Error::last_os_error()));
    }
    let total = st.f_blocks as f64;
    if total == 0.0 {
        return Err("the filesystem reports no blocks".into());
    }
    let avail = st.f_bavail as u64 * st.f_frsize as u64;
    Ok((st.f_bavail as f64 / total * 100.0, avail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_has_a_percentage_and_thresholds_apply() {
        let (pct, _) = free_percent("/").unwrap();
        assert!((0.0..=100.0).contains(&pct));
        assert_eq!(check("/", 0.0).status, Status::Ok);
        assert_eq!(check("/", 100.1).status, Status::Fail);
        assert_eq!(check("/nonexistent-path-xyz", 1.0).status, Status::Fail);
    }
}
