//! Backup sets (SPEC §3): layout, manifest, listing, retention, verification, and the
//! legacy layout the replaced scripts left behind.

pub mod layout;

pub use layout::newest_complete;
