//! Backup sets (SPEC §3): layout, manifest, listing, retention, verification, restore,
//! and the legacy layout the replaced scripts left behind. What a set holds is a list of
//! components, each of a kind registered in kinds/.

pub mod compress;
pub mod create;
pub mod crypto;
pub mod drill;
pub mod kinds;
pub mod layout;
pub mod manifest;
pub mod parallel;
pub mod plan;
pub mod prune;
pub mod remote;
pub mod restore;
pub mod retention;
pub mod schedule;
pub mod signing;
pub mod sink;
pub mod trust;
pub mod untrusted;
pub mod verify;
pub mod wal;
pub mod window;

pub use layout::newest_complete;
